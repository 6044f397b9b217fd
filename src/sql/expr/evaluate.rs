//! Evaluation of compiled expressions against one row and the query's
//! [`Context`] (statement parameters, the parameter frames of correlated
//! subqueries, and the transaction subqueries read through).

use std::borrow::Cow;
use std::cmp::Ordering;

use super::cast::{cast, overflow};
use super::{BinaryOp, Expr, Function};
use crate::error::{Error, Result, SqlState};
use crate::sql::execution::Context;
use crate::sql::numeric::Numeric;
use crate::sql::types::{DataType, Value};

impl Expr {
    /// Evaluates against a row (the operator's input) in `context`.
    pub fn evaluate(&self, row: &[Value], context: &mut Context<'_>) -> Result<Value> {
        crate::sql::stack::check()?;
        Ok(match self {
            Expr::Literal(value) => value.clone(),
            Expr::Slot(index) => row
                .get(*index)
                .cloned()
                .ok_or_else(|| Error::Internal(format!("column offset {index} out of range")))?,
            Expr::Outer(index) => context.outer(*index)?,
            Expr::Column(id) => {
                return Err(Error::Internal(format!(
                    "column {id} was not compiled to a row offset"
                )));
            }
            Expr::Parameter(index) => context.parameter(*index)?,
            Expr::Binary {
                op,
                left,
                right,
                data_type,
            } => {
                let left = left.operand(row, context)?;
                let right = right.operand(row, context)?;
                binary(*op, &left, &right, *data_type)?
            }
            Expr::Negate(expr) => match expr.evaluate(row, context)? {
                Value::Null => Value::Null,
                Value::SmallInt(v) => {
                    Value::SmallInt(v.checked_neg().ok_or_else(|| overflow("smallint"))?)
                }
                Value::Integer(v) => {
                    Value::Integer(v.checked_neg().ok_or_else(|| overflow("integer"))?)
                }
                Value::BigInt(v) => {
                    Value::BigInt(v.checked_neg().ok_or_else(|| overflow("bigint"))?)
                }
                Value::Real(v) => Value::Real(-v),
                Value::Double(v) => Value::Double(-v),
                Value::Numeric(v) => Value::Numeric(v.neg()),
                Value::Interval(v) => Value::Interval(v.checked_neg()?),
                other => return Err(Error::Internal(format!("cannot negate {other:?}"))),
            },
            // Three-valued AND and OR live in `truth_value`.
            Expr::And(..) | Expr::Or(..) => match self.truth_value(row, context)? {
                Some(b) => Value::Boolean(b),
                None => Value::Null,
            },
            Expr::Not(expr) => match expr.truth_value(row, context)? {
                Some(b) => Value::Boolean(!b),
                None => Value::Null,
            },
            Expr::IsNull { expr, negated } => {
                Value::Boolean(expr.evaluate(row, context)?.is_null() != *negated)
            }
            Expr::IsBoolean {
                expr,
                expected,
                negated,
            } => {
                let matches = truth(&expr.evaluate(row, context)?)? == Some(*expected);
                Value::Boolean(matches != *negated)
            }
            Expr::IsDistinctFrom {
                left,
                right,
                negated,
            } => {
                let left = left.evaluate(row, context)?;
                let right = right.evaluate(row, context)?;
                let distinct = match (left.is_null(), right.is_null()) {
                    (true, true) => false,
                    (true, false) | (false, true) => true,
                    _ => sql_compare(&left, &right) != Ordering::Equal,
                };
                Value::Boolean(distinct != *negated)
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let value = expr.evaluate(row, context)?;
                if value.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                for item in list {
                    let item = item.evaluate(row, context)?;
                    if item.is_null() {
                        saw_null = true;
                    } else if sql_compare(&value, &item) == Ordering::Equal {
                        return Ok(Value::Boolean(!negated));
                    }
                }
                if saw_null {
                    Value::Null
                } else {
                    Value::Boolean(*negated)
                }
            }
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => {
                let value = expr.evaluate(row, context)?;
                let pattern = pattern.evaluate(row, context)?;
                match (value, pattern) {
                    (Value::Text(value), Value::Text(pattern)) => {
                        let matched = if *case_insensitive {
                            like(&value.to_lowercase(), &pattern.to_lowercase())?
                        } else {
                            like(&value, &pattern)?
                        };
                        Value::Boolean(matched != *negated)
                    }
                    _ => Value::Null,
                }
            }
            Expr::Case {
                operand,
                branches,
                otherwise,
            } => {
                let operand = match operand {
                    Some(operand) => Some(operand.evaluate(row, context)?),
                    None => None,
                };
                for (when, then) in branches {
                    let when = when.evaluate(row, context)?;
                    let hit = match &operand {
                        Some(operand) => {
                            !operand.is_null()
                                && !when.is_null()
                                && sql_compare(operand, &when) == Ordering::Equal
                        }
                        None => truth(&when)? == Some(true),
                    };
                    if hit {
                        return then.evaluate(row, context);
                    }
                }
                match otherwise {
                    Some(otherwise) => otherwise.evaluate(row, context)?,
                    None => Value::Null,
                }
            }
            Expr::Cast { expr, to, explicit } => {
                let value = expr.evaluate(row, context)?;
                let time = Some(&context.state.time);
                if *explicit {
                    super::cast::cast_explicit_in(value, *to, time)?
                } else {
                    super::cast::cast_in(value, *to, time)?
                }
            }
            Expr::Function { function, args } => {
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    // COALESCE evaluates lazily: stop at the first non-NULL.
                    let value = arg.evaluate(row, context)?;
                    if *function == Function::Coalesce && !value.is_null() {
                        return Ok(value);
                    }
                    values.push(value);
                }
                if let Function::Time(function) = function {
                    return super::time::call(*function, values, &context.state.time);
                }
                if let Function::Sequence(function) = function {
                    return crate::sql::sequence::call(*function, &values, context);
                }
                call(*function, values)?
            }
            Expr::Subquery(subquery) => context.evaluate_subquery(subquery, row)?,
        })
    }

    /// The value of an operand: a column or literal borrowed in place, so
    /// comparing or adding columns copies nothing; anything else evaluated.
    ///
    /// Inlined, so a column or literal operand comes back in registers
    /// rather than through memory.
    #[inline]
    pub fn operand<'r>(
        &'r self,
        row: &'r [Value],
        context: &mut Context<'_>,
    ) -> Result<Cow<'r, Value>> {
        match self {
            Expr::Slot(index) => row
                .get(*index)
                .map(Cow::Borrowed)
                .ok_or_else(|| Error::Internal(format!("column offset {index} out of range"))),
            Expr::Literal(value) => Ok(Cow::Borrowed(value)),
            _ => self.evaluate(row, context).map(Cow::Owned),
        }
    }

    /// Evaluates a predicate: whether it is true (NULL and false are not).
    pub fn is_true(&self, row: &[Value], context: &mut Context<'_>) -> Result<bool> {
        Ok(self.truth_value(row, context)? == Some(true))
    }

    /// The truth value of a boolean expression: what `truth(evaluate)`
    /// gives, with filters' common shapes (comparisons of columns and
    /// literals, and AND/OR of them) decided without building values.
    /// The same operands are evaluated in the same order, so the same
    /// errors are raised.
    fn truth_value(&self, row: &[Value], context: &mut Context<'_>) -> Result<Option<bool>> {
        // Recursive through AND/OR chains: deep input is 54001.
        crate::sql::stack::check()?;
        match self {
            Expr::Binary {
                op, left, right, ..
            } if op.is_comparison() => {
                let left = left.operand(row, context)?;
                let right = right.operand(row, context)?;
                if left.is_null() || right.is_null() {
                    return Ok(None);
                }
                Ok(Some(comparison_holds(*op, sql_compare(&left, &right))))
            }
            Expr::And(left, right) | Expr::Or(left, right) => {
                // The operand value that decides the result alone (false
                // for AND, true for OR); the right side is not evaluated
                // after it.
                let decisive = matches!(self, Expr::Or(..));
                let left = left.truth_value(row, context)?;
                if left == Some(decisive) {
                    return Ok(Some(decisive));
                }
                Ok(match (left, right.truth_value(row, context)?) {
                    (_, Some(value)) if value == decisive => Some(decisive),
                    (Some(_), Some(_)) => Some(!decisive),
                    _ => None,
                })
            }
            _ => truth(&self.evaluate(row, context)?),
        }
    }
}

fn division_by_zero() -> Error {
    Error::sql(SqlState::DIVISION_BY_ZERO, "division by zero")
}

/// The truth value of a boolean (or NULL) value.
pub fn truth(value: &Value) -> Result<Option<bool>> {
    match value {
        Value::Null => Ok(None),
        Value::Boolean(b) => Ok(Some(*b)),
        other => Err(Error::Internal(format!(
            "expected a boolean, got {other:?}"
        ))),
    }
}

/// Compares two non-NULL values of compatible types.
pub fn sql_compare(left: &Value, right: &Value) -> Ordering {
    left.total_cmp(right)
}

fn integer_op(op: BinaryOp, a: i64, b: i64, data_type: DataType) -> Result<Value> {
    let name = match data_type {
        DataType::SmallInt => "smallint",
        DataType::Integer => "integer",
        _ => "bigint",
    };
    let result = match op {
        BinaryOp::Add => a.checked_add(b),
        BinaryOp::Subtract => a.checked_sub(b),
        BinaryOp::Multiply => a.checked_mul(b),
        BinaryOp::Divide => {
            if b == 0 {
                return Err(division_by_zero());
            }
            a.checked_div(b)
        }
        BinaryOp::Modulo => {
            if b == 0 {
                return Err(division_by_zero());
            }
            Some(a.checked_rem(b).unwrap_or(0))
        }
        _ => return Err(Error::Internal(format!("{op:?} is not arithmetic"))),
    }
    .ok_or_else(|| overflow(name))?;
    Ok(match data_type {
        DataType::SmallInt => Value::SmallInt(i16::try_from(result).map_err(|_| overflow(name))?),
        DataType::Integer => Value::Integer(i32::try_from(result).map_err(|_| overflow(name))?),
        _ => Value::BigInt(result),
    })
}

fn float_op(op: BinaryOp, a: f64, b: f64, data_type: DataType) -> Result<Value> {
    let result = match op {
        BinaryOp::Add => a + b,
        BinaryOp::Subtract => a - b,
        BinaryOp::Multiply => a * b,
        BinaryOp::Divide => {
            if b == 0.0 {
                return Err(division_by_zero());
            }
            a / b
        }
        BinaryOp::Modulo => {
            return Err(Error::sql(
                SqlState::UNDEFINED_FUNCTION,
                format!(
                    "operator does not exist: {} % {}",
                    data_type.name(),
                    data_type.name()
                ),
            ));
        }
        _ => return Err(Error::Internal(format!("{op:?} is not arithmetic"))),
    };
    let name = if data_type == DataType::Real {
        "real"
    } else {
        "double precision"
    };
    if result.is_infinite() && a.is_finite() && b.is_finite() {
        return Err(Error::sql(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("value out of range: overflow ({name})"),
        ));
    }
    Ok(if data_type == DataType::Real {
        Value::Real(result as f32)
    } else {
        Value::Double(result)
    })
}

/// Applies a binary operator to two values; `data_type` is the bound result
/// type for arithmetic.
pub fn binary(op: BinaryOp, left: &Value, right: &Value, data_type: DataType) -> Result<Value> {
    if left.is_null() || right.is_null() {
        return Ok(Value::Null);
    }
    if op.is_comparison() {
        return Ok(Value::Boolean(comparison_holds(
            op,
            sql_compare(left, right),
        )));
    }
    if let Some(result) = super::time::binary(op, left, right) {
        return result;
    }
    if op == BinaryOp::Concat {
        // Non-text operands go through the text cast, as PostgreSQL's
        // anytextcat does: a boolean concatenates as `true`, not `t`.
        let text = |value: &Value| -> Result<String> {
            Ok(cast(value.clone(), DataType::Text)?
                .to_text()
                .unwrap_or_default())
        };
        return Ok(Value::Text(
            format!("{}{}", text(left)?, text(right)?).into(),
        ));
    }
    if let DataType::Numeric(_) = data_type {
        let (Some(a), Some(b)) = (as_numeric(left), as_numeric(right)) else {
            return Err(Error::Internal("numeric operator on non-numbers".into()));
        };
        let (a, b) = (a.as_ref(), b.as_ref());
        return Ok(Value::Numeric(match op {
            BinaryOp::Add => a.add(b)?,
            BinaryOp::Subtract => a.sub(b)?,
            BinaryOp::Multiply => a.mul(b)?,
            BinaryOp::Divide => a.div(b)?,
            BinaryOp::Modulo => a.rem(b)?,
            _ => return Err(Error::Internal(format!("{op:?} is not arithmetic"))),
        }));
    }
    if data_type.is_integer() {
        let (Some(a), Some(b)) = (left.as_i64(), right.as_i64()) else {
            return Err(Error::Internal("integer operator on non-integers".into()));
        };
        integer_op(op, a, b, data_type)
    } else {
        let (Some(a), Some(b)) = (left.as_f64(), right.as_f64()) else {
            return Err(Error::Internal("arithmetic on non-numbers".into()));
        };
        float_op(op, a, b, data_type)
    }
}

/// A numeric or integer value as a numeric (an integer operand of a
/// numeric operator is converted here, not by a cast node).
pub fn as_numeric(value: &Value) -> Option<Cow<'_, Numeric>> {
    match value {
        Value::Numeric(number) => Some(Cow::Borrowed(number)),
        other => other
            .as_i64()
            .map(|integer| Cow::Owned(Numeric::from_i64(integer))),
    }
}

/// Whether comparison `op` holds for operands that compare as `ordering`.
#[inline]
fn comparison_holds(op: BinaryOp, ordering: Ordering) -> bool {
    match op {
        BinaryOp::Equal => ordering == Ordering::Equal,
        BinaryOp::NotEqual => ordering != Ordering::Equal,
        BinaryOp::Less => ordering == Ordering::Less,
        BinaryOp::LessOrEqual => ordering != Ordering::Greater,
        BinaryOp::Greater => ordering == Ordering::Greater,
        BinaryOp::GreaterOrEqual => ordering != Ordering::Less,
        _ => unreachable!("is_comparison covers exactly these"),
    }
}

/// SQL `LIKE` with `%`, `_` and backslash escapes.
pub fn like(value: &str, pattern: &str) -> Result<bool> {
    let value: Vec<char> = value.chars().collect();
    let pattern: Vec<char> = pattern.chars().collect();
    // Iterative matching with backtracking to the last `%`.
    let (mut v, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p < pattern.len() {
            match pattern[p] {
                '%' => {
                    star = Some((p, v));
                    p += 1;
                    continue;
                }
                '\\' => {
                    let Some(&literal) = pattern.get(p + 1) else {
                        // Like PostgreSQL, only complain when the trailing
                        // escape is reached with text left to match;
                        // otherwise it is simply no match.
                        if v == value.len() {
                            return Ok(false);
                        }
                        return Err(Error::sql(
                            SqlState::INVALID_ESCAPE_SEQUENCE,
                            "LIKE pattern must not end with escape character",
                        ));
                    };
                    if v < value.len() && value[v] == literal {
                        v += 1;
                        p += 2;
                        continue;
                    }
                }
                '_' if v < value.len() => {
                    v += 1;
                    p += 1;
                    continue;
                }
                c if v < value.len() && value[v] == c => {
                    v += 1;
                    p += 1;
                    continue;
                }
                _ => {}
            }
        } else if v == value.len() {
            return Ok(true);
        }
        match star {
            Some((star_p, star_v)) if star_v < value.len() => {
                star = Some((star_p, star_v + 1));
                p = star_p + 1;
                v = star_v + 1;
            }
            _ => return Ok(false),
        }
    }
}

fn call(function: Function, args: Vec<Value>) -> Result<Value> {
    Ok(match function {
        Function::Coalesce => Value::Null,
        Function::NullIf => {
            let (a, b) = (&args[0], &args[1]);
            if !a.is_null() && !b.is_null() && sql_compare(a, b) == Ordering::Equal {
                Value::Null
            } else {
                a.clone()
            }
        }
        Function::Abs => match &args[0] {
            Value::Null => Value::Null,
            Value::SmallInt(v) => {
                Value::SmallInt(v.checked_abs().ok_or_else(|| overflow("smallint"))?)
            }
            Value::Integer(v) => {
                Value::Integer(v.checked_abs().ok_or_else(|| overflow("integer"))?)
            }
            Value::BigInt(v) => Value::BigInt(v.checked_abs().ok_or_else(|| overflow("bigint"))?),
            Value::Real(v) => Value::Real(v.abs()),
            Value::Double(v) => Value::Double(v.abs()),
            Value::Numeric(v) => Value::Numeric(v.abs()),
            other => return Err(Error::Internal(format!("abs of {other:?}"))),
        },
        Function::Round | Function::Trunc | Function::Ceil | Function::Floor | Function::Sign => {
            super::math::rounding(function, &args)?
        }
        Function::Div => super::math::div(&args)?,
        Function::Float(float) => super::math::float_function(float, &args)?,
        Function::Greatest => super::math::extreme(args, true),
        Function::Least => super::math::extreme(args, false),
        Function::WidthBucket => super::math::width_bucket(&args)?,
        Function::CharToText => match &args[0] {
            Value::Text(text) => Value::Text(text.trim_end_matches(' ').into()),
            other => other.clone(),
        },
        Function::Time(function) => super::time::call(
            function,
            args,
            &crate::sql::datetime::TimeContext::default(),
        )?,
        Function::String(function) => super::string::call(function, &args)?,
        Function::Sequence(function) => {
            return Err(Error::Internal(format!(
                "{} evaluated without a context",
                function.name()
            )));
        }
        Function::Lower | Function::Upper | Function::Length | Function::OctetLength => {
            match &args[0] {
                Value::Null => Value::Null,
                Value::Text(s) => match function {
                    Function::Lower => Value::Text(super::string::lower(s).into()),
                    Function::Upper => Value::Text(super::string::upper(s).into()),
                    Function::OctetLength => Value::Integer(s.len() as i32),
                    _ => Value::Integer(s.chars().count() as i32),
                },
                other => return Err(Error::Internal(format!("text function on {other:?}"))),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlState;
    use crate::sql::execution::QueryState;

    fn lit(value: Value) -> Box<Expr> {
        Box::new(Expr::Literal(value))
    }

    fn eval(expr: &Expr) -> Value {
        let mut state = QueryState::default();
        expr.evaluate(&[], &mut Context::new(None, &mut state))
            .expect("evaluates")
    }

    #[test]
    fn three_valued_logic() {
        let and = Expr::And(lit(Value::Null), lit(Value::Boolean(false)));
        assert_eq!(eval(&and), Value::Boolean(false));
        let or = Expr::Or(lit(Value::Null), lit(Value::Boolean(true)));
        assert_eq!(eval(&or), Value::Boolean(true));
        let or = Expr::Or(lit(Value::Null), lit(Value::Boolean(false)));
        assert!(eval(&or).is_null());
        let not = Expr::Not(lit(Value::Null));
        assert!(eval(&not).is_null());
        let in_list = Expr::InList {
            expr: lit(Value::Integer(3)),
            list: vec![Expr::Literal(Value::Integer(1)), Expr::Literal(Value::Null)],
            negated: false,
        };
        assert!(eval(&in_list).is_null());
    }

    #[test]
    fn an_uncompiled_column_is_an_error_not_a_value() {
        let mut state = QueryState::default();
        let error = Expr::Column(super::super::ColumnId(3))
            .evaluate(&[Value::Integer(1)], &mut Context::new(None, &mut state))
            .unwrap_err();
        assert_eq!(error.sqlstate(), SqlState::INTERNAL_ERROR);
    }

    #[test]
    fn integer_arithmetic_errors() {
        let err = binary(
            BinaryOp::Add,
            &Value::Integer(i32::MAX),
            &Value::Integer(1),
            DataType::Integer,
        )
        .unwrap_err();
        assert_eq!(err.sqlstate(), SqlState::NUMERIC_VALUE_OUT_OF_RANGE);
        let err = binary(
            BinaryOp::Divide,
            &Value::Integer(1),
            &Value::Integer(0),
            DataType::Integer,
        )
        .unwrap_err();
        assert_eq!(err.sqlstate(), SqlState::DIVISION_BY_ZERO);
        assert_eq!(
            binary(
                BinaryOp::Divide,
                &Value::Integer(-7),
                &Value::Integer(2),
                DataType::Integer
            )
            .unwrap(),
            Value::Integer(-3)
        );
        assert_eq!(
            binary(
                BinaryOp::Modulo,
                &Value::Integer(-7),
                &Value::Integer(3),
                DataType::Integer
            )
            .unwrap(),
            Value::Integer(-1)
        );
    }

    #[test]
    fn like_patterns() {
        assert!(like("hello", "h%o").unwrap());
        assert!(like("hello", "_ello").unwrap());
        assert!(!like("hello", "h_o").unwrap());
        assert!(like("50%", "50\\%").unwrap());
        assert!(like("", "%").unwrap());
        assert!(like("abcabc", "%abc").unwrap());
        assert!(!like("abc", "abcd").unwrap());
    }

    #[test]
    fn casts() {
        assert_eq!(
            super::super::cast(Value::Double(2.5), DataType::Integer).unwrap(),
            Value::Integer(2)
        );
        assert_eq!(
            super::super::cast(Value::Double(3.5), DataType::Integer).unwrap(),
            Value::Integer(4)
        );
        assert_eq!(
            super::super::cast(Value::Text("12".into()), DataType::BigInt).unwrap(),
            Value::BigInt(12)
        );
        assert_eq!(
            super::super::cast(Value::BigInt(1 << 40), DataType::Integer)
                .unwrap_err()
                .sqlstate(),
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE
        );
        assert_eq!(
            super::super::cast(Value::Boolean(true), DataType::Text).unwrap(),
            Value::Text("true".into())
        );
    }
}
