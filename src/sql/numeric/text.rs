//! `numeric` text input and the `numeric(precision, scale)` modifier.
//!
//! Input follows PostgreSQL 15's `numeric_in`: surrounding whitespace,
//! an optional sign, digits with at most one point (at least one digit),
//! an optional exponent; or `NaN`, `Infinity`, `inf` with an optional
//! sign, in any case. The display scale is the digits after the point
//! minus the exponent, at least 0 (`1.5e3` is `1500`, `1e-3` is `0.001`).

use std::str::FromStr;

use super::magnitude::Magnitude;
use super::value::{Decimal, MAX_INTEGER_DIGITS, MAX_SCALE, Numeric, overflow};
use crate::error::{Error, Result, SqlState};

/// The largest precision a modifier may declare (`NUMERIC_MAX_PRECISION`).
const MAX_PRECISION: i64 = 1000;
/// Scales a modifier may declare (PostgreSQL 15 allows negative ones).
const MIN_MODIFIER_SCALE: i64 = -1000;
const MAX_MODIFIER_SCALE: i64 = 1000;

impl FromStr for Numeric {
    type Err = Error;

    fn from_str(text: &str) -> Result<Numeric> {
        parse(text).ok_or_else(|| {
            Error::sql(
                SqlState::INVALID_TEXT_REPRESENTATION,
                format!("invalid input syntax for type numeric: \"{text}\""),
            )
        })?
    }
}

/// `None` for a syntax error; `Some(Err)` for a value beyond the limits.
fn parse(text: &str) -> Option<Result<Numeric>> {
    let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{b}');
    let lower = trimmed.to_ascii_lowercase();
    match lower.as_str() {
        "nan" => return Some(Ok(Numeric::nan())),
        "infinity" | "+infinity" | "inf" | "+inf" => return Some(Ok(Numeric::infinity(false))),
        "-infinity" | "-inf" => return Some(Ok(Numeric::infinity(true))),
        _ => {}
    }
    let bytes = trimmed.as_bytes();
    let mut position = 0;
    let negative = take_sign(bytes, &mut position);
    let mut digits = Vec::with_capacity(bytes.len());
    let mut fraction_digits: i64 = 0;
    let mut seen_point = false;
    while let Some(&byte) = bytes.get(position) {
        match byte {
            b'0'..=b'9' => {
                digits.push(byte);
                if seen_point {
                    fraction_digits += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        position += 1;
    }
    if digits.is_empty() {
        return None;
    }
    let mut exponent: i64 = 0;
    if matches!(bytes.get(position), Some(b'e' | b'E')) {
        position += 1;
        let exponent_negative = take_sign(bytes, &mut position);
        let start = position;
        while let Some(byte @ b'0'..=b'9') = bytes.get(position) {
            exponent = exponent
                .saturating_mul(10)
                .saturating_add(i64::from(byte - b'0'));
            position += 1;
        }
        if position == start {
            return None;
        }
        // PostgreSQL refuses exponents near INT_MAX / 2 outright.
        if exponent >= i64::from(i32::MAX / 2) {
            return Some(Err(overflow()));
        }
        if exponent_negative {
            exponent = -exponent;
        }
    }
    if position != bytes.len() {
        return None;
    }
    // value = digits × 10^(exponent - fraction_digits)
    let shift = exponent - fraction_digits;
    let significant = digits
        .iter()
        .position(|&d| d != b'0')
        .map_or(0, |first| digits.len() - first);
    let scale = (-shift).max(0);
    if scale > i64::from(MAX_SCALE)
        || significant > 0 && significant as i64 + shift > i64::from(MAX_INTEGER_DIGITS)
    {
        return Some(Err(overflow()));
    }
    let magnitude = Magnitude::from_decimal(&digits);
    let magnitude = if shift > 0 {
        magnitude.shift_left(shift as u32)
    } else {
        magnitude
    };
    Some(Numeric::from_decimal(Decimal::new(
        negative,
        magnitude,
        scale as u32,
    )))
}

/// Reads an optional `+` or `-` at `position`; whether it was `-`.
fn take_sign(bytes: &[u8], position: &mut usize) -> bool {
    match bytes.get(*position) {
        Some(sign @ (b'-' | b'+')) => {
            *position += 1;
            *sign == b'-'
        }
        _ => false,
    }
}

/// A column's `numeric(precision, scale)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NumericModifier {
    pub precision: u16,
    pub scale: i16,
}

impl NumericModifier {
    /// Checks a declared modifier as PostgreSQL does (22023).
    pub fn new(precision: i64, scale: i64) -> Result<NumericModifier> {
        if !(1..=MAX_PRECISION).contains(&precision) {
            return Err(Error::sql(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("NUMERIC precision {precision} must be between 1 and {MAX_PRECISION}"),
            ));
        }
        if !(MIN_MODIFIER_SCALE..=MAX_MODIFIER_SCALE).contains(&scale) {
            return Err(Error::sql(
                SqlState::INVALID_PARAMETER_VALUE,
                format!(
                    "NUMERIC scale {scale} must be between {MIN_MODIFIER_SCALE} and {MAX_MODIFIER_SCALE}"
                ),
            ));
        }
        Ok(NumericModifier {
            precision: precision as u16,
            scale: scale as i16,
        })
    }

    /// `atttypmod`: `((precision << 16) | (scale & 0xFFFF)) + 4`.
    pub fn type_modifier(&self) -> i32 {
        ((i32::from(self.precision) << 16) | (i32::from(self.scale) & 0xFFFF)) + 4
    }

    /// The modifier `atttypmod` encodes; `None` for -1 or a malformed one.
    pub fn from_type_modifier(modifier: i32) -> Option<NumericModifier> {
        if modifier < 4 {
            return None;
        }
        let packed = modifier - 4;
        let scale = (packed & 0xFFFF) as u16 as i16;
        NumericModifier::new(i64::from(packed >> 16), i64::from(scale)).ok()
    }

    /// Coerces a value to this modifier: rounds to the scale and raises
    /// 22003 "numeric field overflow" when too many digits remain.
    pub fn apply(&self, value: &Numeric) -> Result<Numeric> {
        value.fit(i32::from(self.precision), i32::from(self.scale))
    }

    /// The display scale every value of the column has.
    pub fn display_scale(&self) -> u32 {
        self.scale.max(0) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(input: &str) -> String {
        input.parse::<Numeric>().unwrap().to_text()
    }

    #[test]
    fn input_keeps_the_written_scale() {
        assert_eq!(text(" 1.50 "), "1.50");
        assert_eq!(text("1.5e3"), "1500");
        assert_eq!(text("1.5e-3"), "0.0015");
        assert_eq!(text(".5"), "0.5");
        assert_eq!(text("5."), "5");
        assert_eq!(text("-0.0"), "0.0");
        assert_eq!(text("0.00e5"), "0");
        assert_eq!(text("+007"), "7");
        assert_eq!(text("-INF"), "-Infinity");
        assert_eq!(text(" NAN "), "NaN");
        assert_eq!(text("1e1001").len(), 1002);
    }

    #[test]
    fn bad_input_is_22p02_and_huge_input_22003() {
        for bad in ["", " ", ".", "1e", "- 1", "infinit", "1.2.3", "abc", "1e+"] {
            let error = bad.parse::<Numeric>().unwrap_err();
            assert_eq!(
                error.sqlstate(),
                SqlState::INVALID_TEXT_REPRESENTATION,
                "{bad:?}"
            );
        }
        for huge in ["1e1000000", "1e-1000000", "1e99999999999"] {
            let error = huge.parse::<Numeric>().unwrap_err();
            assert_eq!(
                error.sqlstate(),
                SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                "{huge}"
            );
        }
    }

    #[test]
    fn modifiers_pack_like_postgres() {
        let modifier = NumericModifier::new(10, 2).unwrap();
        assert_eq!(modifier.type_modifier(), (10 << 16 | 2) + 4);
        assert_eq!(
            NumericModifier::from_type_modifier(modifier.type_modifier()),
            Some(modifier)
        );
        let negative = NumericModifier::new(3, -2).unwrap();
        assert_eq!(
            NumericModifier::from_type_modifier(negative.type_modifier()),
            Some(negative)
        );
        assert_eq!(NumericModifier::from_type_modifier(-1), None);
        assert!(NumericModifier::new(0, 0).is_err());
        assert!(NumericModifier::new(1001, 0).is_err());
        assert!(NumericModifier::new(5, 1001).is_err());
    }
}
