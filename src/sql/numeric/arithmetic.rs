//! Arithmetic on `numeric` with PostgreSQL's result scales.
//!
//! | operation        | result scale                                     |
//! |------------------|--------------------------------------------------|
//! | `a + b`, `a - b` | max(scale a, scale b)                            |
//! | `a * b`          | scale a + scale b (exact)                        |
//! | `a / b`          | at least 16 significant digits (below), rounded  |
//! | `a % b`, `mod`   | max(scale a, scale b); the sign of `a`           |
//! | `div(a, b)`      | 0: the quotient truncated toward zero            |
//! | `round(a, k)`    | max(k, 0), rounded half away from zero           |
//!
//! The division scale is PostgreSQL's `select_div_scale`: with `w` the
//! base-10000 weight of an operand's leading digit group and `f` that
//! group's value, the quotient's weight is estimated as `w₁ - w₂`, one
//! less when `f₁ ≤ f₂`, and the scale is `16 - 4 × weight`, raised to
//! both operands' scales and clamped to `0 ..= 1000`. The quotient is
//! the exact one rounded half away from zero at that scale.
//!
//! NaN in, NaN out; the infinities follow IEEE-like rules (`∞ - ∞` and
//! `∞ × 0` are NaN, `x / ∞` is 0), and dividing anything but NaN by zero
//! is 22012, as in PostgreSQL.
//!
//! Small values take `i128` fast paths; everything else goes through
//! [`Decimal`] and its base-10⁹ magnitude.

use std::cmp::Ordering;

use super::magnitude::Magnitude;
use super::value::{Decimal, Inner, MAX_SCALE, Numeric};
use crate::error::{Error, Result, SqlState};

/// Digits a quotient carries at least (PostgreSQL's `NUMERIC_MIN_SIG_DIGITS`).
const MIN_SIGNIFICANT_DIGITS: i64 = 16;
/// The largest scale division and rounding produce (`NUMERIC_MAX_DISPLAY_SCALE`).
const MAX_DISPLAY_SCALE: i64 = 1000;
/// The largest scale `round`/`trunc` accept (`NUMERIC_MAX_RESULT_SCALE`).
const MAX_RESULT_SCALE: i64 = 2000;

fn division_by_zero() -> Error {
    Error::sql(SqlState::DIVISION_BY_ZERO, "division by zero")
}

/// Two small values' coefficients at their larger scale, and that
/// scale, when both are small and the coefficients fit `i128` there: the
/// fast path of sums, remainders and comparisons.
pub(super) fn aligned_small(a: &Numeric, b: &Numeric) -> Option<(i128, i128, u16)> {
    let (
        Inner::Small {
            coefficient: a,
            scale: scale_a,
        },
        Inner::Small {
            coefficient: b,
            scale: scale_b,
        },
    ) = (&a.0, &b.0)
    else {
        return None;
    };
    let scale = *scale_a.max(scale_b);
    let widen = |value: i64, from: u16| {
        let factor = 10i128.checked_pow(u32::from(scale - from))?;
        i128::from(value).checked_mul(factor)
    };
    Some((widen(*a, *scale_a)?, widen(*b, *scale_b)?, scale))
}

/// A finite result from an `i128` coefficient.
fn from_i128(value: i128, scale: u32) -> Result<Numeric> {
    if let Ok(coefficient) = i64::try_from(value)
        && scale <= MAX_SCALE
    {
        return Ok(Numeric(Inner::Small {
            coefficient,
            scale: scale as u16,
        }));
    }
    Numeric::from_decimal(Decimal::new(
        value < 0,
        Magnitude::from_u128(value.unsigned_abs()),
        scale,
    ))
}

fn finite(value: &Numeric) -> Decimal {
    value.decimal().expect("invariant: checked finite")
}

/// Sum of two finite values at the larger scale.
fn add_decimals(a: &Decimal, b: &Decimal) -> Decimal {
    let scale = a.scale.max(b.scale);
    let (a, b) = (a.rescaled(scale), b.rescaled(scale));
    if a.negative == b.negative {
        return Decimal::new(a.negative, a.magnitude.add(&b.magnitude), scale);
    }
    match a.magnitude.cmp(&b.magnitude) {
        Ordering::Less => Decimal::new(b.negative, b.magnitude.sub(&a.magnitude), scale),
        _ => Decimal::new(a.negative, a.magnitude.sub(&b.magnitude), scale),
    }
}

/// The base-10000 weight and value of the leading digit group (module
/// docs); `(0, 0)` for zero.
fn leading_group(value: &Decimal) -> (i64, u64) {
    let Some(exponent) = value.leading_exponent() else {
        return (0, 0);
    };
    let weight = exponent.div_euclid(4);
    let group_digits = (exponent - 4 * weight + 1) as usize;
    let digits = value.magnitude.to_decimal();
    let taken = group_digits.min(digits.len());
    let mut group: u64 = digits[..taken].parse().expect("invariant: decimal digits");
    for _ in taken..group_digits {
        group *= 10;
    }
    (weight, group)
}

/// PostgreSQL's scale for `a / b` (module docs).
fn division_scale(a: &Decimal, b: &Decimal) -> u32 {
    let (weight_a, group_a) = leading_group(a);
    let (weight_b, group_b) = leading_group(b);
    let mut weight = weight_a - weight_b;
    if group_a <= group_b {
        weight -= 1;
    }
    let scale = (MIN_SIGNIFICANT_DIGITS - 4 * weight)
        .max(i64::from(a.scale))
        .max(i64::from(b.scale))
        .clamp(0, MAX_DISPLAY_SCALE);
    scale as u32
}

/// `a / b` at `scale`, rounded half away from zero or truncated.
fn divide(a: &Decimal, b: &Decimal, scale: u32, round: bool) -> Decimal {
    // a / b = (Ma × 10^-sa) / (Mb × 10^-sb); the result's coefficient is
    // Ma × 10^(scale + sb - sa) / Mb.
    let shift = i64::from(scale) + i64::from(b.scale) - i64::from(a.scale);
    let (numerator, denominator) = if shift >= 0 {
        (a.magnitude.shift_left(shift as u32), b.magnitude.clone())
    } else {
        (a.magnitude.clone(), b.magnitude.shift_left((-shift) as u32))
    };
    let (mut quotient, remainder) = numerator.div_rem(&denominator);
    if round && remainder.add(&remainder) >= denominator {
        quotient = quotient.add(&Magnitude::from_u128(1));
    }
    Decimal::new(a.negative != b.negative, quotient, scale)
}

/// Rounds (or truncates) a finite value to `scale` digits, which may be
/// negative (tens, hundreds…); the result's display scale is `max(scale, 0)`.
fn round_decimal(value: &Decimal, scale: i64, round: bool) -> Decimal {
    let target = scale.max(0) as u32;
    if scale >= i64::from(value.scale) {
        return value.rescaled(target);
    }
    let cut = (i64::from(value.scale) - scale) as u32;
    let (mut kept, first_cut, _) = value.magnitude.shift_right(cut);
    if round && first_cut >= 5 {
        kept = kept.add(&Magnitude::from_u128(1));
    }
    if scale < 0 {
        kept = kept.shift_left((-scale) as u32);
    }
    Decimal::new(value.negative, kept, target)
}

impl Numeric {
    pub fn add(&self, other: &Numeric) -> Result<Numeric> {
        if let Some((a, b, scale)) = aligned_small(self, other)
            && let Some(sum) = a.checked_add(b)
        {
            return from_i128(sum, u32::from(scale));
        }
        match (&self.0, &other.0) {
            (Inner::NaN, _) | (_, Inner::NaN) => Ok(Numeric::nan()),
            (Inner::Infinity, Inner::NegativeInfinity)
            | (Inner::NegativeInfinity, Inner::Infinity) => Ok(Numeric::nan()),
            (Inner::Infinity | Inner::NegativeInfinity, _) => Ok(self.clone()),
            (_, Inner::Infinity | Inner::NegativeInfinity) => Ok(other.clone()),
            _ => Numeric::from_decimal(add_decimals(&finite(self), &finite(other))),
        }
    }

    pub fn sub(&self, other: &Numeric) -> Result<Numeric> {
        self.add(&other.neg())
    }

    pub fn neg(&self) -> Numeric {
        match &self.0 {
            Inner::Small { coefficient, scale } if *coefficient != i64::MIN => {
                Numeric(Inner::Small {
                    coefficient: -coefficient,
                    scale: *scale,
                })
            }
            Inner::NaN => Numeric::nan(),
            Inner::Infinity => Numeric::infinity(true),
            Inner::NegativeInfinity => Numeric::infinity(false),
            _ => {
                let decimal = finite(self);
                Numeric::from_decimal(Decimal::new(
                    !decimal.negative,
                    decimal.magnitude,
                    decimal.scale,
                ))
                .expect("invariant: negation keeps the limits")
            }
        }
    }

    pub fn abs(&self) -> Numeric {
        if self.is_negative() {
            self.neg()
        } else {
            self.clone()
        }
    }

    pub fn mul(&self, other: &Numeric) -> Result<Numeric> {
        if let (
            Inner::Small {
                coefficient: a,
                scale: scale_a,
            },
            Inner::Small {
                coefficient: b,
                scale: scale_b,
            },
        ) = (&self.0, &other.0)
            && let Some(product) = i128::from(*a).checked_mul(i128::from(*b))
        {
            return from_i128(product, u32::from(*scale_a) + u32::from(*scale_b));
        }
        match (&self.0, &other.0) {
            (Inner::NaN, _) | (_, Inner::NaN) => Ok(Numeric::nan()),
            _ if !self.is_finite() || !other.is_finite() => {
                if self.is_zero() || other.is_zero() {
                    return Ok(Numeric::nan());
                }
                Ok(Numeric::infinity(self.is_negative() != other.is_negative()))
            }
            _ => {
                let (a, b) = (finite(self), finite(other));
                Numeric::from_decimal(Decimal::new(
                    a.negative != b.negative,
                    a.magnitude.mul(&b.magnitude),
                    a.scale + b.scale,
                ))
            }
        }
    }

    /// `a / b` at PostgreSQL's division scale (module docs).
    pub fn div(&self, other: &Numeric) -> Result<Numeric> {
        if let Some(special) = self.special_quotient(other)? {
            return Ok(special);
        }
        let (a, b) = (finite(self), finite(other));
        let scale = division_scale(&a, &b);
        Numeric::from_decimal(divide(&a, &b, scale, true))
    }

    /// `a / b` at exactly `scale` digits, rounded (for `avg` and friends
    /// that choose their own scale).
    pub fn div_at_scale(&self, other: &Numeric, scale: u32) -> Result<Numeric> {
        if let Some(special) = self.special_quotient(other)? {
            return Ok(special);
        }
        Numeric::from_decimal(divide(&finite(self), &finite(other), scale, true))
    }

    /// `div(a, b)`: the quotient truncated toward zero, scale 0.
    pub fn div_trunc(&self, other: &Numeric) -> Result<Numeric> {
        if let Some(special) = self.special_quotient(other)? {
            return Ok(special);
        }
        Numeric::from_decimal(divide(&finite(self), &finite(other), 0, false))
    }

    /// NaN, infinities and zero divisors of a division; `None` when both
    /// operands are finite and the divisor is not zero.
    fn special_quotient(&self, other: &Numeric) -> Result<Option<Numeric>> {
        if self.is_nan() || other.is_nan() {
            return Ok(Some(Numeric::nan()));
        }
        if other.is_zero() {
            return Err(division_by_zero());
        }
        if other.infinite_sign().is_some() {
            return Ok(Some(if self.is_finite() {
                Numeric::zero()
            } else {
                Numeric::nan()
            }));
        }
        if let Some(negative) = self.infinite_sign() {
            return Ok(Some(Numeric::infinity(negative != other.is_negative())));
        }
        Ok(None)
    }

    /// `a % b`: `a - trunc(a / b) × b`, with the sign of `a`.
    pub fn rem(&self, other: &Numeric) -> Result<Numeric> {
        if self.is_nan() || other.is_nan() {
            return Ok(Numeric::nan());
        }
        if other.is_zero() {
            return Err(division_by_zero());
        }
        if !self.is_finite() {
            return Ok(Numeric::nan());
        }
        if !other.is_finite() {
            return Ok(self.clone());
        }
        if let Some((a, b, scale)) = aligned_small(self, other) {
            return from_i128(a % b, u32::from(scale));
        }
        let (a, b) = (finite(self), finite(other));
        let quotient = divide(&a, &b, 0, false);
        let product = Decimal::new(
            quotient.negative != b.negative,
            quotient.magnitude.mul(&b.magnitude),
            b.scale,
        );
        let product = Decimal::new(!product.negative, product.magnitude, product.scale);
        Numeric::from_decimal(add_decimals(&a, &product))
    }

    /// -1, 0 or 1 (scale 0); NaN for NaN.
    pub fn sign(&self) -> Numeric {
        if self.is_nan() {
            Numeric::nan()
        } else if self.is_zero() {
            Numeric::zero()
        } else if self.is_negative() {
            Numeric::from_i64(-1)
        } else {
            Numeric::from_i64(1)
        }
    }

    /// `round(x, scale)`: half away from zero; scale 0 for negative `scale`.
    pub fn round(&self, scale: i64) -> Result<Numeric> {
        self.round_with(scale, true)
    }

    /// `trunc(x, scale)`: toward zero.
    pub fn trunc(&self, scale: i64) -> Result<Numeric> {
        self.round_with(scale, false)
    }

    fn round_with(&self, scale: i64, round: bool) -> Result<Numeric> {
        if !self.is_finite() {
            return Ok(self.clone());
        }
        let scale = scale.clamp(-MAX_RESULT_SCALE, MAX_RESULT_SCALE);
        Numeric::from_decimal(round_decimal(&finite(self), scale, round))
    }

    /// The smallest integer not below the value (scale 0).
    pub fn ceil(&self) -> Result<Numeric> {
        self.to_integral(false)
    }

    /// The largest integer not above the value (scale 0).
    pub fn floor(&self) -> Result<Numeric> {
        self.to_integral(true)
    }

    fn to_integral(&self, toward_negative: bool) -> Result<Numeric> {
        if !self.is_finite() {
            return Ok(self.clone());
        }
        let value = finite(self);
        let (mut kept, _, cut_anything) = value.magnitude.shift_right(value.scale);
        if cut_anything && value.negative == toward_negative {
            kept = kept.add(&Magnitude::from_u128(1));
        }
        Numeric::from_decimal(Decimal::new(value.negative, kept, 0))
    }

    /// Rounds to `scale` (which may be negative) and checks that fewer
    /// than `precision - scale` digits remain before the point: the
    /// coercion to `numeric(precision, scale)`.
    pub(super) fn fit(&self, precision: i32, scale: i32) -> Result<Numeric> {
        let overflow = || {
            Error::sql(
                SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                "numeric field overflow",
            )
        };
        if self.is_nan() {
            return Ok(self.clone());
        }
        if !self.is_finite() {
            return Err(overflow());
        }
        let rounded = round_decimal(&finite(self), i64::from(scale), true);
        if let Some(exponent) = rounded.leading_exponent()
            && exponent >= i64::from(precision) - i64::from(scale)
        {
            return Err(overflow());
        }
        Numeric::from_decimal(rounded)
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn numeric(text: &str) -> Numeric {
        Numeric::from_str(text).unwrap()
    }

    fn text(result: Result<Numeric>) -> String {
        result.unwrap().to_text()
    }

    #[test]
    fn sums_and_products_keep_postgres_scales() {
        assert_eq!(text(numeric("0.1").add(&numeric("0.2"))), "0.3");
        assert_eq!(text(numeric("1.50").sub(&numeric("0.5"))), "1.00");
        assert_eq!(text(numeric("1.50").mul(&numeric("0.5"))), "0.750");
        let big = numeric("9223372036854775807");
        assert_eq!(text(big.add(&big)), "18446744073709551614");
        assert_eq!(
            text(big.mul(&big)),
            "85070591730234615847396907784232501249"
        );
        assert_eq!(text(numeric("Infinity").sub(&numeric("Infinity"))), "NaN");
        assert_eq!(text(numeric("Infinity").mul(&numeric("0"))), "NaN");
        assert_eq!(text(numeric("-Infinity").mul(&numeric("-2"))), "Infinity");
    }

    #[test]
    fn quotients_carry_postgres_division_scale() {
        let cases = [
            ("1", "3", "0.33333333333333333333"),
            ("10", "4", "2.5000000000000000"),
            ("1", "7", "0.14285714285714285714"),
            (
                "123456789012345678901234567890",
                "7",
                "17636684144620811271604938270",
            ),
            ("1", "123456789012", "0.0000000000081000000729226807"),
            ("0.000001", "3", "0.000000333333333333333333"),
            ("1e20", "3", "33333333333333333333"),
            ("1", "3e-20", "33333333333333333333.33333333333333333333"),
            ("18446744073709551614", "2", "9223372036854775807"),
            ("-2", "3", "-0.66666666666666666667"),
        ];
        for (a, b, expected) in cases {
            assert_eq!(text(numeric(a).div(&numeric(b))), expected, "{a} / {b}");
        }
        assert_eq!(
            numeric("1").div(&numeric("0")).unwrap_err().sqlstate(),
            SqlState::DIVISION_BY_ZERO
        );
        assert_eq!(text(numeric("NaN").div(&numeric("0"))), "NaN");
        assert_eq!(text(numeric("1").div(&numeric("Infinity"))), "0");
        assert!(numeric("Infinity").div(&numeric("0")).is_err());
    }

    #[test]
    fn remainders_take_the_dividend_sign() {
        assert_eq!(text(numeric("-7.5").rem(&numeric("2"))), "-1.5");
        assert_eq!(text(numeric("7.5").rem(&numeric("-2"))), "1.5");
        assert_eq!(text(numeric("5").rem(&numeric("Infinity"))), "5");
        assert_eq!(text(numeric("Infinity").rem(&numeric("3"))), "NaN");
        let big = numeric("123456789012345678901234567890.5");
        assert_eq!(text(big.rem(&numeric("-7.25"))), "7.00");
        assert_eq!(text(numeric("1").div_trunc(&numeric("3.0"))), "0");
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(text(numeric("2.5").round(0)), "3");
        assert_eq!(text(numeric("-2.5").round(0)), "-3");
        assert_eq!(text(numeric("1.2").round(3)), "1.200");
        assert_eq!(text(numeric("1250").round(-2)), "1300");
        assert_eq!(text(numeric("45").round(-2)), "0");
        assert_eq!(text(numeric("-1.999").trunc(2)), "-1.99");
        assert_eq!(text(numeric("-1.2").ceil()), "-1");
        assert_eq!(text(numeric("-1.2").floor()), "-2");
        assert_eq!(text(numeric("1.0").ceil()), "1");
        assert_eq!(text(numeric("0.5").floor()), "0");
    }

    #[test]
    fn typmod_fits_round_then_check_the_integer_digits() {
        assert_eq!(text(numeric("1.005").fit(5, 2)), "1.01");
        assert_eq!(text(numeric("0.000125").fit(3, 5)), "0.00013");
        assert_eq!(text(numeric("12350").fit(5, -2)), "12400");
        assert_eq!(text(numeric("149.9").fit(5, -2)), "100");
        assert!(numeric("999.995").fit(5, 2).is_err());
        assert!(numeric("0.01").fit(3, 5).is_err());
        assert!(numeric("Infinity").fit(5, 2).is_err());
        assert_eq!(text(numeric("NaN").fit(5, 2)), "NaN");
    }
}
