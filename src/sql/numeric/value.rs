//! The `Numeric` value: its representations, conversions and order.

use std::cmp::Ordering;
use std::sync::Arc;

use super::magnitude::Magnitude;
use crate::error::{Error, Result, SqlState};

/// The largest display scale a value may have (PostgreSQL's `NUMERIC_DSCALE_MAX`).
pub const MAX_SCALE: u32 = 0x3FFF;
/// The most digits before the point (PostgreSQL's weight limit, 32768 base-10000 digits).
pub const MAX_INTEGER_DIGITS: u32 = 131_072;

/// An exact decimal number, `NaN` or an infinity (module docs).
#[derive(Clone, Debug)]
pub struct Numeric(pub(super) Inner);

#[derive(Clone, Debug)]
pub(super) enum Inner {
    /// `coefficient × 10^-scale`.
    Small {
        coefficient: i64,
        scale: u16,
    },
    /// A coefficient beyond `i64` (invariant 1).
    Large(Arc<Decimal>),
    NaN,
    Infinity,
    NegativeInfinity,
}

/// A finite value being computed on: `± magnitude × 10^-scale`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Decimal {
    pub negative: bool,
    pub magnitude: Magnitude,
    pub scale: u32,
}

pub(super) fn overflow() -> Error {
    Error::sql(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        "value overflows numeric format",
    )
}

impl Decimal {
    pub(super) fn new(negative: bool, magnitude: Magnitude, scale: u32) -> Decimal {
        Decimal {
            negative: negative && !magnitude.is_zero(),
            magnitude,
            scale,
        }
    }

    /// The same value at a larger `scale`.
    pub(super) fn rescaled(&self, scale: u32) -> Decimal {
        debug_assert!(scale >= self.scale);
        Decimal {
            negative: self.negative,
            magnitude: self.magnitude.shift_left(scale - self.scale),
            scale,
        }
    }

    /// The decimal exponent of the leading digit (`123.4` is 2, `0.05` is
    /// -2); `None` for zero.
    pub(super) fn leading_exponent(&self) -> Option<i64> {
        (!self.magnitude.is_zero())
            .then(|| i64::from(self.magnitude.decimal_digit_count()) - 1 - i64::from(self.scale))
    }

    pub(super) fn cmp_value(&self, other: &Decimal) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => return Ordering::Greater,
            (true, false) => return Ordering::Less,
            _ => {}
        }
        let magnitudes = match self.scale.cmp(&other.scale) {
            Ordering::Equal => self.magnitude.cmp(&other.magnitude),
            Ordering::Less => self.rescaled(other.scale).magnitude.cmp(&other.magnitude),
            Ordering::Greater => self.magnitude.cmp(&other.rescaled(self.scale).magnitude),
        };
        if self.negative {
            magnitudes.reverse()
        } else {
            magnitudes
        }
    }

    /// The plain decimal text (`-12.50`).
    pub(super) fn to_text(&self) -> String {
        let digits = self.magnitude.to_decimal();
        let scale = self.scale as usize;
        let mut out = String::with_capacity(digits.len() + scale + 3);
        if self.negative {
            out.push('-');
        }
        if scale == 0 {
            out.push_str(&digits);
        } else if digits.len() > scale {
            let (whole, fraction) = digits.split_at(digits.len() - scale);
            out.push_str(whole);
            out.push('.');
            out.push_str(fraction);
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', scale - digits.len()));
            out.push_str(&digits);
        }
        out
    }
}

impl Numeric {
    pub fn nan() -> Numeric {
        Numeric(Inner::NaN)
    }

    pub fn infinity(negative: bool) -> Numeric {
        Numeric(if negative {
            Inner::NegativeInfinity
        } else {
            Inner::Infinity
        })
    }

    pub fn zero() -> Numeric {
        Numeric::from_i64(0)
    }

    pub fn from_i64(value: i64) -> Numeric {
        Numeric(Inner::Small {
            coefficient: value,
            scale: 0,
        })
    }

    pub fn from_i128(value: i128) -> Numeric {
        match i64::try_from(value) {
            Ok(value) => Numeric::from_i64(value),
            Err(_) => Numeric(Inner::Large(Arc::new(Decimal::new(
                value < 0,
                Magnitude::from_u128(value.unsigned_abs()),
                0,
            )))),
        }
    }

    /// Packs a finite result, checking the storage limits (invariant 2).
    pub(super) fn from_decimal(decimal: Decimal) -> Result<Numeric> {
        if decimal.scale > MAX_SCALE {
            return Err(overflow());
        }
        if let Some(exponent) = decimal.leading_exponent()
            && exponent >= i64::from(MAX_INTEGER_DIGITS)
        {
            return Err(overflow());
        }
        let scale = decimal.scale as u16;
        if let Some(magnitude) = decimal.magnitude.to_u128()
            && magnitude <= i64::MAX as u128
        {
            let coefficient = magnitude as i64;
            return Ok(Numeric(Inner::Small {
                coefficient: if decimal.negative {
                    -coefficient
                } else {
                    coefficient
                },
                scale,
            }));
        }
        Ok(Numeric(Inner::Large(Arc::new(Decimal::new(
            decimal.negative,
            decimal.magnitude,
            decimal.scale,
        )))))
    }

    /// The finite value as a `Decimal`; `None` for NaN and the infinities.
    pub(super) fn decimal(&self) -> Option<Decimal> {
        match &self.0 {
            Inner::Small { coefficient, scale } => Some(Decimal {
                negative: *coefficient < 0,
                magnitude: Magnitude::from_u128(u128::from(coefficient.unsigned_abs())),
                scale: u32::from(*scale),
            }),
            Inner::Large(decimal) => Some(Decimal::clone(decimal)),
            _ => None,
        }
    }

    pub fn is_nan(&self) -> bool {
        matches!(self.0, Inner::NaN)
    }

    /// `Some(negative)` for an infinity.
    pub fn infinite_sign(&self) -> Option<bool> {
        match self.0 {
            Inner::Infinity => Some(false),
            Inner::NegativeInfinity => Some(true),
            _ => None,
        }
    }

    pub fn is_finite(&self) -> bool {
        matches!(self.0, Inner::Small { .. } | Inner::Large(_))
    }

    pub fn is_zero(&self) -> bool {
        matches!(self.0, Inner::Small { coefficient: 0, .. })
    }

    pub fn is_negative(&self) -> bool {
        match &self.0 {
            Inner::Small { coefficient, .. } => *coefficient < 0,
            Inner::Large(decimal) => decimal.negative,
            Inner::NegativeInfinity => true,
            _ => false,
        }
    }

    /// The display scale (0 for NaN and the infinities).
    pub fn scale(&self) -> u32 {
        match &self.0 {
            Inner::Small { scale, .. } => u32::from(*scale),
            Inner::Large(decimal) => decimal.scale,
            _ => 0,
        }
    }

    /// PostgreSQL's text output: plain notation with the display scale.
    pub fn to_text(&self) -> String {
        match &self.0 {
            Inner::Small {
                coefficient,
                scale: 0,
            } => coefficient.to_string(),
            Inner::NaN => "NaN".to_string(),
            Inner::Infinity => "Infinity".to_string(),
            Inner::NegativeInfinity => "-Infinity".to_string(),
            _ => self.decimal().expect("invariant: finite").to_text(),
        }
    }

    /// The nearest `f64`, as PostgreSQL converts (through the decimal text).
    pub fn to_f64(&self) -> f64 {
        match &self.0 {
            Inner::Small { coefficient, scale }
                if coefficient.unsigned_abs() < 1 << 53 && *scale <= 22 =>
            {
                // Both operands are exact, so the quotient is correctly rounded.
                *coefficient as f64 / 10f64.powi(i32::from(*scale))
            }
            Inner::NaN => f64::NAN,
            Inner::Infinity => f64::INFINITY,
            Inner::NegativeInfinity => f64::NEG_INFINITY,
            _ => self
                .to_text()
                .parse()
                .expect("invariant: numeric text is a float literal"),
        }
    }

    /// PostgreSQL's `float8::numeric` (and `float4::numeric` with 6
    /// digits): the float printed to `significant_digits` digits, as
    /// `%.{n}g` does, then read as numeric text.
    pub fn from_f64(value: f64, significant_digits: usize) -> Result<Numeric> {
        if value.is_nan() {
            return Ok(Numeric::nan());
        }
        if value.is_infinite() {
            return Ok(Numeric::infinity(value < 0.0));
        }
        let scientific = format!("{:.*e}", significant_digits - 1, value);
        let (mantissa, exponent) = scientific
            .split_once('e')
            .expect("invariant: {:e} output has an exponent");
        let exponent: i64 = exponent.parse().expect("invariant: an integer exponent");
        let negative = mantissa.starts_with('-');
        let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
        let significant = digits.iter().rposition(|&d| d != b'0').map_or(1, |p| p + 1);
        let digits = &digits[..significant];
        // value = digits × 10^(exponent - (significant - 1))
        let shift = exponent - (significant as i64 - 1);
        let magnitude = Magnitude::from_decimal(digits);
        let decimal = if shift >= 0 {
            Decimal::new(negative, magnitude.shift_left(shift as u32), 0)
        } else {
            Decimal::new(negative, magnitude, (-shift) as u32)
        };
        Numeric::from_decimal(decimal)
    }

    /// Rounds half away from zero to an integer and checks it against
    /// `[min, max]`; `type_name` words the errors as PostgreSQL does.
    pub fn to_integer(&self, min: i64, max: i64, type_name: &str) -> Result<i64> {
        let out_of_range = || {
            Error::sql(
                SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                format!("{type_name} out of range"),
            )
        };
        match &self.0 {
            Inner::Small {
                coefficient,
                scale: 0,
            } => {
                return if (min..=max).contains(coefficient) {
                    Ok(*coefficient)
                } else {
                    Err(out_of_range())
                };
            }
            Inner::NaN => {
                return Err(Error::sql(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    format!("cannot convert NaN to {type_name}"),
                ));
            }
            Inner::Infinity | Inner::NegativeInfinity => {
                return Err(Error::sql(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    format!("cannot convert infinity to {type_name}"),
                ));
            }
            _ => {}
        }
        let rounded = self.round(0)?;
        let decimal = rounded.decimal().expect("invariant: finite");
        let magnitude = decimal.magnitude.to_u128().ok_or_else(out_of_range)?;
        let value = i128::try_from(magnitude).map_err(|_| out_of_range())?;
        let value = if decimal.negative { -value } else { value };
        if value < i128::from(min) || value > i128::from(max) {
            return Err(out_of_range());
        }
        Ok(value as i64)
    }

    /// The value with trailing fractional zeros dropped: equal values give
    /// equal results (for hashing; invariant 3).
    pub(super) fn canonical(&self) -> Option<Decimal> {
        let mut decimal = self.decimal()?;
        while decimal.scale > 0 && decimal.magnitude.strip_trailing_zero() {
            decimal.scale -= 1;
        }
        if decimal.magnitude.is_zero() {
            decimal.scale = 0;
        }
        Some(decimal)
    }

    /// If the value is an integer that fits `i64`, that integer (so a
    /// numeric `2.00` hashes as the integer 2 does).
    pub fn as_exact_i64(&self) -> Option<i64> {
        match &self.0 {
            Inner::Small {
                coefficient,
                scale: 0,
            } => Some(*coefficient),
            _ => {
                let canonical = self.canonical()?;
                if canonical.scale != 0 {
                    return None;
                }
                // Through i128, so that -9223372036854775808 fits.
                let magnitude = i128::try_from(canonical.magnitude.to_u128()?).ok()?;
                i64::try_from(if canonical.negative {
                    -magnitude
                } else {
                    magnitude
                })
                .ok()
            }
        }
    }

    /// PostgreSQL's order (invariant 3).
    pub fn total_cmp(&self, other: &Numeric) -> Ordering {
        fn rank(value: &Numeric) -> u8 {
            match value.0 {
                Inner::NegativeInfinity => 0,
                Inner::Small { .. } | Inner::Large(_) => 1,
                Inner::Infinity => 2,
                Inner::NaN => 3,
            }
        }
        if let Some((a, b, _)) = super::arithmetic::aligned_small(self, other) {
            return a.cmp(&b);
        }
        match (self.decimal(), other.decimal()) {
            (Some(a), Some(b)) => a.cmp_value(&b),
            _ => rank(self).cmp(&rank(other)),
        }
    }
}

impl PartialEq for Numeric {
    fn eq(&self, other: &Numeric) -> bool {
        self.total_cmp(other) == Ordering::Equal
    }
}

impl Eq for Numeric {}

impl PartialOrd for Numeric {
    fn partial_cmp(&self, other: &Numeric) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Numeric {
    fn cmp(&self, other: &Numeric) -> Ordering {
        self.total_cmp(other)
    }
}

impl std::hash::Hash for Numeric {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match &self.0 {
            Inner::NaN => 1u8.hash(state),
            Inner::Infinity => 2u8.hash(state),
            Inner::NegativeInfinity => 3u8.hash(state),
            _ => {
                let canonical = self.canonical().expect("invariant: finite");
                canonical.hash_into(state);
            }
        }
    }
}

impl Decimal {
    fn hash_into<H: std::hash::Hasher>(&self, state: &mut H) {
        use std::hash::Hash;
        self.negative.hash(state);
        self.scale.hash(state);
        self.magnitude.hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn numeric(text: &str) -> Numeric {
        Numeric::from_str(text).unwrap()
    }

    #[test]
    fn values_are_packed_once() {
        let big = numeric("92233720368547758070");
        assert!(matches!(big.0, Inner::Large(_)));
        let back = big.div(&numeric("10")).unwrap().trunc(0).unwrap();
        assert!(matches!(back.0, Inner::Small { .. }), "{back:?}");
        assert_eq!(numeric("-0.00").to_text(), "0.00");
        assert!(!numeric("-0.00").is_negative());
    }

    #[test]
    fn order_and_equality_ignore_the_scale() {
        assert_eq!(numeric("1.5"), numeric("1.500"));
        assert!(numeric("NaN") > numeric("Infinity"));
        assert!(numeric("-Infinity") < numeric("-1e100000"));
        assert!(numeric("1e30") > numeric("999999999999999999999999999.99"));
        assert!(numeric("-2.5") < numeric("-2.49999999999999999999999"));
        assert_eq!(numeric("2.00").as_exact_i64(), Some(2));
        assert_eq!(numeric("2.01").as_exact_i64(), None);
        let hash = |value: &Numeric| {
            use std::hash::{BuildHasher, BuildHasherDefault};
            BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
                .hash_one(value)
        };
        assert_eq!(hash(&numeric("10.0")), hash(&numeric("1e1")));
        assert_eq!(
            hash(&numeric("123456789012345678901234.5000")),
            hash(&numeric("123456789012345678901234.5"))
        );
    }

    #[test]
    fn float_conversions_go_through_postgres_digits() {
        assert_eq!(Numeric::from_f64(0.1, 15).unwrap().to_text(), "0.1");
        assert_eq!(
            Numeric::from_f64(1.0 / 3.0, 15).unwrap().to_text(),
            "0.333333333333333"
        );
        assert_eq!(
            Numeric::from_f64(1e20, 15).unwrap().to_text(),
            "100000000000000000000"
        );
        assert_eq!(Numeric::from_f64(1.5e-5, 15).unwrap().to_text(), "0.000015");
        assert_eq!(Numeric::from_f64(-2.0, 15).unwrap().to_text(), "-2");
        assert_eq!(numeric("0.1").to_f64(), 0.1);
        assert_eq!(
            numeric("123456789012345678901234567890").to_f64(),
            1.2345678901234568e29
        );
    }

    #[test]
    fn integer_conversion_rounds_half_away_from_zero() {
        assert_eq!(
            numeric("2.5")
                .to_integer(i64::MIN, i64::MAX, "bigint")
                .unwrap(),
            3
        );
        assert_eq!(
            numeric("-2.5")
                .to_integer(i64::MIN, i64::MAX, "bigint")
                .unwrap(),
            -3
        );
        assert_eq!(
            numeric("-2.49")
                .to_integer(i64::MIN, i64::MAX, "bigint")
                .unwrap(),
            -2
        );
        let error = numeric("32767.5")
            .to_integer(-32768, 32767, "smallint")
            .unwrap_err();
        assert_eq!(error.to_string(), "smallint out of range");
        let error = numeric("NaN")
            .to_integer(-32768, 32767, "smallint")
            .unwrap_err();
        assert_eq!(error.sqlstate(), SqlState::FEATURE_NOT_SUPPORTED);
    }
}
