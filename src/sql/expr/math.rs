//! The rounding family (`round`, `trunc`, `ceil`, `floor`, `sign`) and
//! `div`, over `numeric` and `double precision` as PostgreSQL defines
//! them: numeric rounds half away from zero (`numeric/arithmetic.rs`),
//! double precision rounds half to even (C's `rint`). The binder decides
//! the variant: a numeric argument gets the numeric one, any other
//! number the double precision one. Also the double precision functions
//! (roots, powers, logarithms, trigonometry), `greatest`/`least` and
//! `width_bucket`, with PostgreSQL's errors.

use super::Function;
use super::evaluate::as_numeric;
use crate::error::{Error, Result, SqlState};
use crate::sql::numeric::Numeric;
use crate::sql::types::Value;

/// `round`, `trunc`, `ceil`, `floor` or `sign` of `args[0]`, with the
/// scale `args[1]` for `round` and `trunc` of a numeric.
pub(super) fn rounding(function: Function, args: &[Value]) -> Result<Value> {
    let (Some(value), scale) = (args.first(), args.get(1)) else {
        return Err(Error::Internal(
            "a rounding function without arguments".into(),
        ));
    };
    if value.is_null() || scale.is_some_and(Value::is_null) {
        return Ok(Value::Null);
    }
    if let Value::Numeric(number) = value {
        let scale = scale.and_then(Value::as_i64).unwrap_or(0);
        return Ok(Value::Numeric(match function {
            Function::Round => number.round(scale)?,
            Function::Trunc => number.trunc(scale)?,
            Function::Ceil => number.ceil()?,
            Function::Floor => number.floor()?,
            _ => number.sign(),
        }));
    }
    if let Some(scale) = scale {
        // round(numeric, integer) with an integer first argument.
        let number = as_numeric(value)
            .ok_or_else(|| Error::Internal(format!("{} of {value:?}", function.name())))?;
        let scale = scale.as_i64().unwrap_or(0);
        return Ok(Value::Numeric(match function {
            Function::Round => number.round(scale)?,
            _ => number.trunc(scale)?,
        }));
    }
    let float = value
        .as_f64()
        .ok_or_else(|| Error::Internal(format!("{} of {value:?}", function.name())))?;
    Ok(Value::Double(match function {
        Function::Round => float.round_ties_even(),
        Function::Trunc => float.trunc(),
        Function::Ceil => float.ceil(),
        Function::Floor => float.floor(),
        _ => {
            if float > 0.0 {
                1.0
            } else if float < 0.0 {
                -1.0
            } else {
                // Zero, and NaN too, as PostgreSQL's dsign.
                0.0
            }
        }
    }))
}

/// `div(a, b)`: the quotient truncated toward zero, as numeric.
pub(super) fn div(args: &[Value]) -> Result<Value> {
    let [a, b] = args else {
        return Err(Error::Internal("div takes two arguments".into()));
    };
    if a.is_null() || b.is_null() {
        return Ok(Value::Null);
    }
    let (Some(a), Some(b)) = (as_numeric(a), as_numeric(b)) else {
        return Err(Error::Internal("div of non-numbers".into()));
    };
    Ok(Value::Numeric(a.div_trunc(&b)?))
}

/// The `double precision` functions of one or two arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatFunction {
    Sqrt,
    Cbrt,
    Exp,
    Ln,
    Log10,
    Power,
    Pi,
    Degrees,
    Radians,
    Sin,
    Cos,
    Tan,
    Cot,
    Asin,
    Acos,
    Atan,
    Atan2,
}

impl FloatFunction {
    /// The function a (lower-cased) name calls, with its argument count.
    pub fn named(name: &str) -> Option<(FloatFunction, usize)> {
        use FloatFunction::*;
        Some(match name {
            "sqrt" => (Sqrt, 1),
            "cbrt" => (Cbrt, 1),
            "exp" => (Exp, 1),
            "ln" => (Ln, 1),
            "log" | "log10" => (Log10, 1),
            "power" | "pow" => (Power, 2),
            "pi" => (Pi, 0),
            "degrees" => (Degrees, 1),
            "radians" => (Radians, 1),
            "sin" => (Sin, 1),
            "cos" => (Cos, 1),
            "tan" => (Tan, 1),
            "cot" => (Cot, 1),
            "asin" => (Asin, 1),
            "acos" => (Acos, 1),
            "atan" => (Atan, 1),
            "atan2" => (Atan2, 2),
            _ => return None,
        })
    }

    /// Whether PostgreSQL also has a `numeric` variant, which a numeric
    /// argument selects.
    pub fn has_numeric_variant(&self) -> bool {
        matches!(
            self,
            FloatFunction::Sqrt
                | FloatFunction::Exp
                | FloatFunction::Ln
                | FloatFunction::Log10
                | FloatFunction::Power
        )
    }

    pub fn name(&self) -> &'static str {
        use FloatFunction::*;
        match self {
            Sqrt => "sqrt",
            Cbrt => "cbrt",
            Exp => "exp",
            Ln => "ln",
            Log10 => "log",
            Power => "power",
            Pi => "pi",
            Degrees => "degrees",
            Radians => "radians",
            Sin => "sin",
            Cos => "cos",
            Tan => "tan",
            Cot => "cot",
            Asin => "asin",
            Acos => "acos",
            Atan => "atan",
            Atan2 => "atan2",
        }
    }
}

fn out_of_range(what: &str) -> Error {
    Error::sql(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        format!("value out of range: {what}"),
    )
}

/// A float function of `args`, with PostgreSQL's errors: 2201F for
/// square roots and powers without a real result, 2201E for logarithms
/// of zero or negatives, 22003 for overflow, underflow and
/// trigonometric input out of range.
pub(super) fn float_function(function: FloatFunction, args: &[Value]) -> Result<Value> {
    use FloatFunction::*;
    if args.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let arg = |index: usize| -> Result<f64> {
        args.get(index)
            .and_then(Value::as_f64)
            .ok_or_else(|| Error::Internal(format!("{} of {args:?}", function.name())))
    };
    let power_error =
        |message: &str| Error::sql(SqlState::INVALID_ARGUMENT_FOR_POWER_FUNCTION, message);
    let log_error = |message: &str| Error::sql(SqlState::INVALID_ARGUMENT_FOR_LOG, message);
    let input_range = || {
        Error::sql(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            "input is out of range",
        )
    };
    let result = match function {
        Pi => std::f64::consts::PI,
        Sqrt => {
            let x = arg(0)?;
            if x < 0.0 {
                return Err(power_error("cannot take square root of a negative number"));
            }
            x.sqrt()
        }
        Cbrt => c_library_cbrt(arg(0)?),
        Exp => {
            let x = arg(0)?;
            let result = x.exp();
            if result.is_infinite() && x.is_finite() {
                return Err(out_of_range("overflow"));
            }
            if result == 0.0 && x.is_finite() {
                return Err(out_of_range("underflow"));
            }
            result
        }
        Ln | Log10 => {
            let x = arg(0)?;
            if x == 0.0 {
                return Err(log_error("cannot take logarithm of zero"));
            }
            if x < 0.0 {
                return Err(log_error("cannot take logarithm of a negative number"));
            }
            if function == Ln { x.ln() } else { x.log10() }
        }
        Power => {
            let (x, y) = (arg(0)?, arg(1)?);
            if x == 0.0 && y < 0.0 {
                return Err(power_error("zero raised to a negative power is undefined"));
            }
            if x < 0.0 && y.is_finite() && y.fract() != 0.0 {
                return Err(power_error(
                    "a negative number raised to a non-integer power yields a complex result",
                ));
            }
            let result = x.powf(y);
            if result.is_infinite() && x.is_finite() && y.is_finite() {
                return Err(out_of_range("overflow"));
            }
            if result == 0.0 && x != 0.0 && x.is_finite() && y.is_finite() {
                return Err(out_of_range("underflow"));
            }
            result
        }
        Degrees => arg(0)?.to_degrees(),
        Radians => arg(0)?.to_radians(),
        Sin | Cos | Tan | Cot => {
            let x = arg(0)?;
            if x.is_nan() {
                return Ok(Value::Double(f64::NAN));
            }
            if x.is_infinite() {
                return Err(input_range());
            }
            match function {
                Sin => x.sin(),
                Cos => x.cos(),
                Tan => x.tan(),
                _ => 1.0 / x.tan(),
            }
        }
        Asin | Acos => {
            let x = arg(0)?;
            if x.is_nan() {
                return Ok(Value::Double(f64::NAN));
            }
            if !(-1.0..=1.0).contains(&x) {
                return Err(input_range());
            }
            if function == Asin { x.asin() } else { x.acos() }
        }
        Atan => arg(0)?.atan(),
        Atan2 => arg(0)?.atan2(arg(1)?),
    };
    Ok(Value::Double(result))
}

/// The C library's cube root, which PostgreSQL's `cbrt` calls. Rust's
/// own `cbrt` (which even an `extern "C"` declaration of `cbrt` links to)
/// is correctly rounded; glibc's is not, and differs in the last bit for
/// almost half of all inputs (`cbrt(27)` is `3.0000000000000004` there).
/// glibc also exports it as `cbrtf64`, a name only it defines.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn c_library_cbrt(x: f64) -> f64 {
    unsafe extern "C" {
        fn cbrtf64(x: f64) -> f64;
    }
    // SAFETY: a pure function of one double, thread-safe in glibc.
    unsafe { cbrtf64(x) }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn c_library_cbrt(x: f64) -> f64 {
    x.cbrt()
}

/// `greatest`/`least`: the largest or smallest argument, NULLs ignored
/// (NULL only when every argument is NULL).
pub(super) fn extreme(args: Vec<Value>, greatest: bool) -> Value {
    let mut best: Option<Value> = None;
    for value in args {
        if value.is_null() {
            continue;
        }
        let replace = best.as_ref().is_none_or(|current| {
            let ordering = value.total_cmp(current);
            if greatest {
                ordering == std::cmp::Ordering::Greater
            } else {
                ordering == std::cmp::Ordering::Less
            }
        });
        if replace {
            best = Some(value);
        }
    }
    best.unwrap_or(Value::Null)
}

/// `width_bucket(operand, low, high, count)`: which of `count` equal
/// buckets between the bounds holds the operand (0 below, `count + 1`
/// above; the buckets run downward when `low > high`).
pub(super) fn width_bucket(args: &[Value]) -> Result<Value> {
    let [operand, low, high, count] = args else {
        return Err(Error::Internal("width_bucket takes four arguments".into()));
    };
    if args.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let invalid = |message: &str| Error::sql(SqlState::INVALID_ARGUMENT_FOR_WIDTH_BUCKET, message);
    let count = count
        .as_i64()
        .ok_or_else(|| Error::Internal("width_bucket count".into()))?;
    if count <= 0 {
        return Err(invalid("count must be greater than zero"));
    }
    let overflow = || Error::sql(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "integer out of range");
    let beyond = || i32::try_from(count + 1).map_err(|_| overflow());
    if [operand, low, high]
        .iter()
        .any(|v| matches!(v, Value::Numeric(_)))
    {
        let (Some(x), Some(a), Some(b)) = (as_numeric(operand), as_numeric(low), as_numeric(high))
        else {
            return Err(Error::Internal("width_bucket of non-numbers".into()));
        };
        check_bucket_bounds(
            x.is_nan() || a.is_nan() || b.is_nan(),
            a.is_finite() && b.is_finite(),
        )?;
        let (x, a, b) = (x.as_ref(), a.as_ref(), b.as_ref());
        let bucket = match a.cmp(b) {
            std::cmp::Ordering::Equal => {
                return Err(invalid("lower bound cannot equal upper bound"));
            }
            std::cmp::Ordering::Less if x < a => 0,
            std::cmp::Ordering::Less if x >= b => beyond()?,
            std::cmp::Ordering::Greater if x > a => 0,
            std::cmp::Ordering::Greater if x <= b => beyond()?,
            _ => {
                // 1 + floor(count × |x - a| / |b - a|), computed exactly.
                let counted = x.sub(a)?.abs().mul(&Numeric::from_i64(count))?;
                let bucket = counted.div_trunc(&b.sub(a)?.abs())?;
                1 + bucket.to_integer(i64::from(i32::MIN), i64::from(i32::MAX), "integer")? as i32
            }
        };
        return Ok(Value::Integer(bucket));
    }
    let (Some(x), Some(a), Some(b)) = (operand.as_f64(), low.as_f64(), high.as_f64()) else {
        return Err(Error::Internal("width_bucket of non-numbers".into()));
    };
    check_bucket_bounds(
        x.is_nan() || a.is_nan() || b.is_nan(),
        a.is_finite() && b.is_finite(),
    )?;
    // Buckets that run downward are the upward ones of the negated
    // values (negation is exact).
    let (x, a, b) = match a.partial_cmp(&b) {
        Some(std::cmp::Ordering::Less) => (x, a, b),
        Some(std::cmp::Ordering::Greater) => (-x, -a, -b),
        _ => return Err(invalid("lower bound cannot equal upper bound")),
    };
    let bucket = if x < a {
        0
    } else if x >= b {
        beyond()?
    } else {
        let share = if (b - a).is_finite() {
            (x - a) / (b - a)
        } else {
            (x / 2.0 - a / 2.0) / (b / 2.0 - a / 2.0)
        };
        (count as f64 * share) as i32 + 1
    };
    Ok(Value::Integer(bucket))
}

/// `width_bucket`'s checks of its operand and bounds, the same for both
/// variants (2201G, NaN first, as PostgreSQL checks).
fn check_bucket_bounds(any_nan: bool, bounds_finite: bool) -> Result<()> {
    let invalid = |message: &str| Error::sql(SqlState::INVALID_ARGUMENT_FOR_WIDTH_BUCKET, message);
    if any_nan {
        return Err(invalid(
            "operand, lower bound, and upper bound cannot be NaN",
        ));
    }
    if !bounds_finite {
        return Err(invalid("lower and upper bounds must be finite"));
    }
    Ok(())
}
