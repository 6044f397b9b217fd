//! The rounding family (`round`, `trunc`, `ceil`, `floor`, `sign`) and
//! `div`, over `numeric` and `double precision` as PostgreSQL defines
//! them: numeric rounds half away from zero (`numeric/arithmetic.rs`),
//! double precision rounds half to even (C's `rint`). The binder decides
//! the variant: a numeric argument gets the numeric one, any other
//! number the double precision one.

use super::Function;
use super::evaluate::as_numeric;
use crate::error::{Error, Result};
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
