//! Bound expressions and their evaluation.
//!
//! The binder turns sqlparser expressions into [`Expr`]: column references
//! become row offsets, every node has a known [`DataType`], and implicit
//! casts are explicit nodes. Evaluation follows PostgreSQL semantics:
//! three-valued logic (`NULL AND false` is false, `NULL OR true` is true),
//! integer arithmetic that errors on overflow (22003) and on division by zero
//! (22012), integer division truncating toward zero, and `%` taking the sign
//! of the dividend.

use std::cmp::Ordering;

use super::types::{DataType, Value, check_varchar};
use crate::error::{Error, Result, SqlState};

/// Binary operators after binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Subtract,
    Multiply,
    Divide,
    Modulo,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Concat,
}

impl BinaryOp {
    pub fn symbol(&self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Subtract => "-",
            BinaryOp::Multiply => "*",
            BinaryOp::Divide => "/",
            BinaryOp::Modulo => "%",
            BinaryOp::Equal => "=",
            BinaryOp::NotEqual => "<>",
            BinaryOp::Less => "<",
            BinaryOp::LessOrEqual => "<=",
            BinaryOp::Greater => ">",
            BinaryOp::GreaterOrEqual => ">=",
            BinaryOp::Concat => "||",
        }
    }

    pub fn is_comparison(&self) -> bool {
        matches!(
            self,
            BinaryOp::Equal
                | BinaryOp::NotEqual
                | BinaryOp::Less
                | BinaryOp::LessOrEqual
                | BinaryOp::Greater
                | BinaryOp::GreaterOrEqual
        )
    }

    /// The comparison with its operands swapped (`a < b` ⇔ `b > a`).
    pub fn flip(&self) -> BinaryOp {
        match self {
            BinaryOp::Less => BinaryOp::Greater,
            BinaryOp::LessOrEqual => BinaryOp::GreaterOrEqual,
            BinaryOp::Greater => BinaryOp::Less,
            BinaryOp::GreaterOrEqual => BinaryOp::LessOrEqual,
            other => *other,
        }
    }
}

/// Scalar functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Abs,
    Coalesce,
    NullIf,
    Lower,
    Upper,
    Length,
}

/// A bound, typed expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Literal(Value),
    /// The value at this offset of the input row.
    Column(usize),
    /// `$n` (zero-based here).
    Parameter(usize),
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
        data_type: DataType,
    },
    Negate(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    /// `IS [NOT] TRUE/FALSE`: `expected` is the boolean tested for.
    IsBoolean {
        expr: Box<Expr>,
        expected: bool,
        negated: bool,
    },
    IsDistinctFrom {
        left: Box<Expr>,
        right: Box<Expr>,
        negated: bool,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        negated: bool,
        case_insensitive: bool,
    },
    Case {
        operand: Option<Box<Expr>>,
        branches: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    /// A conversion; `explicit` (CAST, `::`) truncates `varchar(n)` where
    /// an implicit or assignment conversion raises 22001.
    Cast {
        expr: Box<Expr>,
        to: DataType,
        explicit: bool,
    },
    Function {
        function: Function,
        args: Vec<Expr>,
    },
}

impl Expr {
    /// Whether evaluating the expression reads no row and no parameter.
    pub fn is_constant(&self) -> bool {
        let mut constant = true;
        self.walk(&mut |expr| {
            if matches!(expr, Expr::Column(_) | Expr::Parameter(_)) {
                constant = false;
            }
        });
        constant
    }

    /// Whether the expression reads no row (parameters are allowed).
    pub fn is_row_independent(&self) -> bool {
        let mut independent = true;
        self.walk(&mut |expr| {
            if matches!(expr, Expr::Column(_)) {
                independent = false;
            }
        });
        independent
    }

    /// Visits every node, parents before children.
    pub fn walk(&self, visit: &mut impl FnMut(&Expr)) {
        visit(self);
        match self {
            Expr::Literal(_) | Expr::Column(_) | Expr::Parameter(_) => {}
            Expr::Binary { left, right, .. }
            | Expr::And(left, right)
            | Expr::Or(left, right)
            | Expr::IsDistinctFrom { left, right, .. } => {
                left.walk(visit);
                right.walk(visit);
            }
            Expr::Negate(expr)
            | Expr::Not(expr)
            | Expr::IsNull { expr, .. }
            | Expr::IsBoolean { expr, .. }
            | Expr::Cast { expr, .. } => expr.walk(visit),
            Expr::InList { expr, list, .. } => {
                expr.walk(visit);
                list.iter().for_each(|e| e.walk(visit));
            }
            Expr::Like { expr, pattern, .. } => {
                expr.walk(visit);
                pattern.walk(visit);
            }
            Expr::Case {
                operand,
                branches,
                otherwise,
            } => {
                if let Some(operand) = operand {
                    operand.walk(visit);
                }
                for (when, then) in branches {
                    when.walk(visit);
                    then.walk(visit);
                }
                if let Some(otherwise) = otherwise {
                    otherwise.walk(visit);
                }
            }
            Expr::Function { args, .. } => args.iter().for_each(|e| e.walk(visit)),
        }
    }

    /// Evaluates against a row and the statement's parameters.
    pub fn evaluate(&self, row: &[Value], params: &[Value]) -> Result<Value> {
        Ok(match self {
            Expr::Literal(value) => value.clone(),
            Expr::Column(index) => row
                .get(*index)
                .cloned()
                .ok_or_else(|| Error::Internal(format!("column offset {index} out of range")))?,
            Expr::Parameter(index) => params.get(*index).cloned().ok_or_else(|| {
                Error::sql(
                    SqlState::PROTOCOL_VIOLATION,
                    format!("there is no parameter ${}", index + 1),
                )
            })?,
            Expr::Binary {
                op,
                left,
                right,
                data_type,
            } => {
                let left = left.evaluate(row, params)?;
                let right = right.evaluate(row, params)?;
                binary(*op, &left, &right, *data_type)?
            }
            Expr::Negate(expr) => match expr.evaluate(row, params)? {
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
                other => return Err(Error::Internal(format!("cannot negate {other:?}"))),
            },
            Expr::And(left, right) => {
                let left = truth(&left.evaluate(row, params)?)?;
                if left == Some(false) {
                    return Ok(Value::Boolean(false));
                }
                let right = truth(&right.evaluate(row, params)?)?;
                match (left, right) {
                    (_, Some(false)) => Value::Boolean(false),
                    (Some(true), Some(true)) => Value::Boolean(true),
                    _ => Value::Null,
                }
            }
            Expr::Or(left, right) => {
                let left = truth(&left.evaluate(row, params)?)?;
                if left == Some(true) {
                    return Ok(Value::Boolean(true));
                }
                let right = truth(&right.evaluate(row, params)?)?;
                match (left, right) {
                    (_, Some(true)) => Value::Boolean(true),
                    (Some(false), Some(false)) => Value::Boolean(false),
                    _ => Value::Null,
                }
            }
            Expr::Not(expr) => match truth(&expr.evaluate(row, params)?)? {
                Some(b) => Value::Boolean(!b),
                None => Value::Null,
            },
            Expr::IsNull { expr, negated } => {
                Value::Boolean(expr.evaluate(row, params)?.is_null() != *negated)
            }
            Expr::IsBoolean {
                expr,
                expected,
                negated,
            } => {
                let matches = truth(&expr.evaluate(row, params)?)? == Some(*expected);
                Value::Boolean(matches != *negated)
            }
            Expr::IsDistinctFrom {
                left,
                right,
                negated,
            } => {
                let left = left.evaluate(row, params)?;
                let right = right.evaluate(row, params)?;
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
                let value = expr.evaluate(row, params)?;
                if value.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                for item in list {
                    let item = item.evaluate(row, params)?;
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
                let value = expr.evaluate(row, params)?;
                let pattern = pattern.evaluate(row, params)?;
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
                    Some(operand) => Some(operand.evaluate(row, params)?),
                    None => None,
                };
                for (when, then) in branches {
                    let when = when.evaluate(row, params)?;
                    let hit = match &operand {
                        Some(operand) => {
                            !operand.is_null()
                                && !when.is_null()
                                && sql_compare(operand, &when) == Ordering::Equal
                        }
                        None => truth(&when)? == Some(true),
                    };
                    if hit {
                        return then.evaluate(row, params);
                    }
                }
                match otherwise {
                    Some(otherwise) => otherwise.evaluate(row, params)?,
                    None => Value::Null,
                }
            }
            Expr::Cast { expr, to, explicit } => {
                let value = expr.evaluate(row, params)?;
                if *explicit {
                    cast_explicit(value, *to)?
                } else {
                    cast(value, *to)?
                }
            }
            Expr::Function { function, args } => {
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    // COALESCE evaluates lazily: stop at the first non-NULL.
                    let value = arg.evaluate(row, params)?;
                    if *function == Function::Coalesce && !value.is_null() {
                        return Ok(value);
                    }
                    values.push(value);
                }
                call(*function, values)?
            }
        })
    }
}

fn overflow(type_name: &str) -> Error {
    Error::sql(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        format!("{type_name} out of range"),
    )
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
        let ordering = sql_compare(left, right);
        return Ok(Value::Boolean(match op {
            BinaryOp::Equal => ordering == Ordering::Equal,
            BinaryOp::NotEqual => ordering != Ordering::Equal,
            BinaryOp::Less => ordering == Ordering::Less,
            BinaryOp::LessOrEqual => ordering != Ordering::Greater,
            BinaryOp::Greater => ordering == Ordering::Greater,
            BinaryOp::GreaterOrEqual => ordering != Ordering::Less,
            _ => unreachable!("is_comparison covers exactly these"),
        }));
    }
    if op == BinaryOp::Concat {
        // Non-text operands go through the text cast, as PostgreSQL's
        // anytextcat does: a boolean concatenates as `true`, not `t`.
        let text = |value: &Value| -> Result<String> {
            Ok(cast(value.clone(), DataType::Text)?
                .to_text()
                .unwrap_or_default())
        };
        return Ok(Value::Text(format!("{}{}", text(left)?, text(right)?)));
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

/// An explicit cast: like [`cast`], except that a string too long for
/// `varchar(n)` is truncated, as PostgreSQL's explicit casts do.
pub fn cast_explicit(value: Value, to: DataType) -> Result<Value> {
    match to {
        DataType::Varchar(Some(limit)) => Ok(match cast(value, DataType::Text)? {
            Value::Text(text) => Value::Text(text.chars().take(limit as usize).collect()),
            other => other,
        }),
        _ => cast(value, to),
    }
}

/// Casts a value to a type, with PostgreSQL's rules and errors.
pub fn cast(value: Value, to: DataType) -> Result<Value> {
    let from_name = value.data_type().map(|t| t.name()).unwrap_or_default();
    let unsupported = || {
        Error::sql(
            SqlState::CANNOT_COERCE,
            format!("cannot cast type {} to {}", from_name, to.name()),
        )
    };
    Ok(match (value, to) {
        (Value::Null, _) => Value::Null,
        (Value::Text(text), _) => Value::parse(to, &text)?,
        (Value::Boolean(b), DataType::Text | DataType::Varchar(_)) => {
            let text = if b { "true" } else { "false" };
            Value::Text(check_varchar(text, to_limit(to))?.to_string())
        }
        (value, DataType::Text) => Value::Text(value.to_text().unwrap_or_default()),
        (value, DataType::Varchar(limit)) => {
            let text = value.to_text().unwrap_or_default();
            Value::Text(check_varchar(&text, limit)?.to_string())
        }
        (Value::Boolean(b), DataType::Boolean) => Value::Boolean(b),
        (Value::Boolean(b), DataType::Integer) => Value::Integer(b as i32),
        (Value::Integer(v), DataType::Boolean) => Value::Boolean(v != 0),
        (Value::Boolean(_), _) | (_, DataType::Boolean) => return Err(unsupported()),
        (value, DataType::SmallInt | DataType::Integer | DataType::BigInt) => {
            let name = match to {
                DataType::SmallInt => "smallint",
                DataType::Integer => "integer",
                _ => "bigint",
            };
            let integer = match value.as_i64() {
                Some(v) => v,
                None => {
                    let f = value.as_f64().ok_or_else(unsupported)?;
                    // PostgreSQL rounds half away from zero... to even for
                    // float-to-int (rint); match that.
                    let rounded = f.round_ties_even();
                    if !rounded.is_finite()
                        || rounded < i64::MIN as f64
                        || rounded >= i64::MAX as f64
                    {
                        return Err(overflow(name));
                    }
                    rounded as i64
                }
            };
            match to {
                DataType::SmallInt => {
                    Value::SmallInt(i16::try_from(integer).map_err(|_| overflow(name))?)
                }
                DataType::Integer => {
                    Value::Integer(i32::try_from(integer).map_err(|_| overflow(name))?)
                }
                _ => Value::BigInt(integer),
            }
        }
        (value, DataType::Real) => {
            let f = value.as_f64().ok_or_else(unsupported)?;
            let narrowed = f as f32;
            if narrowed.is_infinite() && f.is_finite() {
                return Err(Error::sql(
                    SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                    "value out of range: overflow",
                ));
            }
            Value::Real(narrowed)
        }
        (value, DataType::Double) => Value::Double(value.as_f64().ok_or_else(unsupported)?),
    })
}

fn to_limit(data_type: DataType) -> Option<u32> {
    match data_type {
        DataType::Varchar(limit) => limit,
        _ => None,
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
            other => return Err(Error::Internal(format!("abs of {other:?}"))),
        },
        Function::Lower | Function::Upper | Function::Length => match &args[0] {
            Value::Null => Value::Null,
            Value::Text(s) => match function {
                Function::Lower => Value::Text(s.to_lowercase()),
                Function::Upper => Value::Text(s.to_uppercase()),
                _ => Value::Integer(s.chars().count() as i32),
            },
            other => return Err(Error::Internal(format!("text function on {other:?}"))),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(value: Value) -> Box<Expr> {
        Box::new(Expr::Literal(value))
    }

    #[test]
    fn three_valued_logic() {
        let and = Expr::And(lit(Value::Null), lit(Value::Boolean(false)));
        assert_eq!(and.evaluate(&[], &[]).unwrap(), Value::Boolean(false));
        let or = Expr::Or(lit(Value::Null), lit(Value::Boolean(true)));
        assert_eq!(or.evaluate(&[], &[]).unwrap(), Value::Boolean(true));
        let or = Expr::Or(lit(Value::Null), lit(Value::Boolean(false)));
        assert!(or.evaluate(&[], &[]).unwrap().is_null());
        let not = Expr::Not(lit(Value::Null));
        assert!(not.evaluate(&[], &[]).unwrap().is_null());
        let in_list = Expr::InList {
            expr: lit(Value::Integer(3)),
            list: vec![Expr::Literal(Value::Integer(1)), Expr::Literal(Value::Null)],
            negated: false,
        };
        assert!(in_list.evaluate(&[], &[]).unwrap().is_null());
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
            cast(Value::Double(2.5), DataType::Integer).unwrap(),
            Value::Integer(2)
        );
        assert_eq!(
            cast(Value::Double(3.5), DataType::Integer).unwrap(),
            Value::Integer(4)
        );
        assert_eq!(
            cast(Value::Text("12".into()), DataType::BigInt).unwrap(),
            Value::BigInt(12)
        );
        assert_eq!(
            cast(Value::BigInt(1 << 40), DataType::Integer)
                .unwrap_err()
                .sqlstate(),
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE
        );
        assert_eq!(
            cast(Value::Boolean(true), DataType::Text).unwrap(),
            Value::Text("true".into())
        );
    }
}
