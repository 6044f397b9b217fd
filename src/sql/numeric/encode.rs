//! `numeric` bytes: order-preserving keys, stored rows, and PostgreSQL's
//! binary wire format.
//!
//! Key (bytewise order is value order, invariant 3; equal values, `1.5`
//! and `1.50`, have equal keys):
//!
//! ```text
//!   -Infinity  10
//!   negative   11 ‖ !(exponent ‖ digit pairs ‖ 01)     (every byte inverted)
//!   zero       12
//!   positive   13 ‖ exponent ‖ digit pairs ‖ 01
//!   Infinity   14
//!   NaN        15
//! ```
//!
//! A finite nonzero value is `0.d₁d₂…dₙ × 10^exponent` with `d₁ ≠ 0` and
//! `dₙ ≠ 0`. The exponent is an integer key (`encoding.rs`: a length
//! header, then big-endian bytes); the digits go two to a byte as
//! `2 + 10·d₁ + d₂` (a lone last digit pairs with 0), ending in `01`,
//! below every pair, so a prefix sorts first. Only an exponent's byte
//! can be `00`, which the MVCC layer escapes, and only beyond ±255. A key holds no display
//! scale: it decodes at the column's declared scale, or at the fewest
//! digits that show the value for plain `numeric` (so such keys are
//! not index-only readable, `optimizer/prune.rs`).
//!
//! Row payload: `0` and `i64` coefficient, `u16` scale for small values;
//! `1`, sign byte, `u16` scale, `u32` limb count and `u32` limbs (least
//! significant first) for large ones; `2`/`3`/`4` for NaN, Infinity and
//! -Infinity. All little-endian.
//!
//! Binary wire format (`numeric_send`): `i16` count of base-10000 digits,
//! `i16` weight of the first, `u16` sign (`0000` positive, `4000`
//! negative, `C000` NaN, `D000` Infinity, `F000` -Infinity), `u16`
//! display scale, then the digits; big-endian, no leading or trailing
//! zero digits.

use super::magnitude::Magnitude;
use super::value::{Decimal, Inner, MAX_SCALE, Numeric};
use crate::error::{Error, Result, SqlState};
use crate::sql::encoding::{decode_integer_key, encode_integer_key};

const KEY_NEGATIVE_INFINITY: u8 = 0x10;
const KEY_NEGATIVE: u8 = 0x11;
const KEY_ZERO: u8 = 0x12;
const KEY_POSITIVE: u8 = 0x13;
const KEY_INFINITY: u8 = 0x14;
const KEY_NAN: u8 = 0x15;
const KEY_DIGITS_END: u8 = 0x01;

/// The significant digits (ASCII, no leading or trailing zeros) and the
/// exponent with `value = 0.digits × 10^exponent`; `None` for zero.
fn significant_digits(decimal: &Decimal) -> Option<(Vec<u8>, i64)> {
    let exponent = decimal.leading_exponent()? + 1;
    let mut digits = decimal.magnitude.to_decimal().into_bytes();
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    Some((digits, exponent))
}

/// Appends the key of `value` (module docs).
pub fn encode_key(value: &Numeric, out: &mut Vec<u8>) {
    let decimal = match &value.0 {
        Inner::NaN => return out.push(KEY_NAN),
        Inner::Infinity => return out.push(KEY_INFINITY),
        Inner::NegativeInfinity => return out.push(KEY_NEGATIVE_INFINITY),
        _ => value.decimal().expect("invariant: finite"),
    };
    let Some((digits, exponent)) = significant_digits(&decimal) else {
        return out.push(KEY_ZERO);
    };
    out.push(if decimal.negative {
        KEY_NEGATIVE
    } else {
        KEY_POSITIVE
    });
    let start = out.len();
    encode_integer_key(exponent, out);
    for pair in digits.chunks(2) {
        let high = pair[0] - b'0';
        let low = pair.get(1).map_or(0, |digit| digit - b'0');
        out.push(2 + 10 * high + low);
    }
    out.push(KEY_DIGITS_END);
    if decimal.negative {
        for byte in &mut out[start..] {
            *byte = !*byte;
        }
    }
}

/// Decodes a key at the front of `bytes` (each byte inverted first when
/// `inverted`), giving it `scale` digits after the point, or the fewest
/// that show it when `None`; returns the value and the key's length.
pub fn decode_key(bytes: &[u8], inverted: bool, scale: Option<u32>) -> Result<(Numeric, usize)> {
    let corrupt = || Error::Corrupt("malformed numeric key".into());
    let byte = |index: usize| -> Result<u8> {
        let byte = *bytes.get(index).ok_or_else(corrupt)?;
        Ok(if inverted { !byte } else { byte })
    };
    let negative = match byte(0)? {
        KEY_NAN => return Ok((Numeric::nan(), 1)),
        KEY_INFINITY => return Ok((Numeric::infinity(false), 1)),
        KEY_NEGATIVE_INFINITY => return Ok((Numeric::infinity(true), 1)),
        KEY_ZERO => {
            let zero = Decimal::new(false, Magnitude::zero(), scale.unwrap_or(0));
            return Ok((Numeric::from_decimal(zero)?, 1));
        }
        KEY_NEGATIVE => true,
        KEY_POSITIVE => false,
        _ => return Err(corrupt()),
    };
    // The body is inverted once more for a negative value.
    let flip = inverted != negative;
    let body = &bytes[1..];
    let (exponent, exponent_length) = decode_integer_key(body, flip)?;
    let mut digits = Vec::new();
    let mut position = exponent_length;
    loop {
        let pair = *body.get(position).ok_or_else(corrupt)?;
        let pair = if flip { !pair } else { pair };
        position += 1;
        if pair == KEY_DIGITS_END {
            break;
        }
        if !(2..=101).contains(&pair) {
            return Err(corrupt());
        }
        digits.push(b'0' + (pair - 2) / 10);
        digits.push(b'0' + (pair - 2) % 10);
    }
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    if digits.first().is_none_or(|&digit| digit == b'0') {
        return Err(corrupt());
    }
    // value = digits × 10^(exponent - len)
    let shift = exponent - digits.len() as i64;
    let minimal_scale = (-shift).max(0);
    let scale = i64::from(scale.unwrap_or(0)).max(minimal_scale);
    if scale > i64::from(MAX_SCALE) || shift > i64::from(super::MAX_INTEGER_DIGITS) {
        return Err(corrupt());
    }
    let magnitude = Magnitude::from_decimal(&digits);
    let magnitude = magnitude.shift_left((shift + scale) as u32);
    let value = Numeric::from_decimal(Decimal::new(negative, magnitude, scale as u32))
        .map_err(|_| corrupt())?;
    Ok((value, 1 + position))
}

/// Appends the row payload of `value` (module docs).
pub fn encode_row(value: &Numeric, out: &mut Vec<u8>) {
    match &value.0 {
        Inner::Small { coefficient, scale } => {
            out.push(0);
            out.extend_from_slice(&coefficient.to_le_bytes());
            out.extend_from_slice(&scale.to_le_bytes());
        }
        Inner::Large(decimal) => {
            out.push(1);
            out.push(u8::from(decimal.negative));
            out.extend_from_slice(&(decimal.scale as u16).to_le_bytes());
            let limbs = decimal.magnitude.limbs();
            out.extend_from_slice(&(limbs.len() as u32).to_le_bytes());
            for limb in limbs {
                out.extend_from_slice(&limb.to_le_bytes());
            }
        }
        Inner::NaN => out.push(2),
        Inner::Infinity => out.push(3),
        Inner::NegativeInfinity => out.push(4),
    }
}

/// Decodes a row payload at the front of `bytes`; returns the value and
/// its length. Malformed bytes are `Error::Corrupt`.
pub fn decode_row(bytes: &[u8]) -> Result<(Numeric, usize)> {
    let corrupt = || Error::Corrupt("malformed numeric value".into());
    let take = |from: usize, length: usize| bytes.get(from..from + length).ok_or_else(corrupt);
    let u16_at = |from: usize| -> Result<u16> {
        Ok(u16::from_le_bytes(
            take(from, 2)?.try_into().expect("invariant: two bytes"),
        ))
    };
    let u32_at = |from: usize| -> Result<u32> {
        Ok(u32::from_le_bytes(
            take(from, 4)?.try_into().expect("invariant: four bytes"),
        ))
    };
    Ok(match *bytes.first().ok_or_else(corrupt)? {
        0 => {
            let coefficient =
                i64::from_le_bytes(take(1, 8)?.try_into().expect("invariant: eight bytes"));
            let scale = u16_at(9)?;
            if u32::from(scale) > MAX_SCALE {
                return Err(corrupt());
            }
            (Numeric(Inner::Small { coefficient, scale }), 11)
        }
        1 => {
            let negative = match *take(1, 1)?.first().expect("invariant: one byte") {
                0 => false,
                1 => true,
                _ => return Err(corrupt()),
            };
            let scale = u32::from(u16_at(2)?);
            let count = u32_at(4)? as usize;
            let limb_bytes = count.checked_mul(4).ok_or_else(corrupt)?;
            let limbs = take(8, limb_bytes)?
                .chunks_exact(4)
                .map(|chunk| u32::from_le_bytes(chunk.try_into().expect("invariant: four bytes")))
                .collect();
            let magnitude = Magnitude::from_limbs(limbs).ok_or_else(corrupt)?;
            let value = Numeric::from_decimal(Decimal::new(negative, magnitude, scale))
                .map_err(|_| corrupt())?;
            (value, 8 + limb_bytes)
        }
        2 => (Numeric::nan(), 1),
        3 => (Numeric::infinity(false), 1),
        4 => (Numeric::infinity(true), 1),
        _ => return Err(corrupt()),
    })
}

const SIGN_POSITIVE: u16 = 0x0000;
const SIGN_NEGATIVE: u16 = 0x4000;
const SIGN_NAN: u16 = 0xC000;
const SIGN_INFINITY: u16 = 0xD000;
const SIGN_NEGATIVE_INFINITY: u16 = 0xF000;

/// PostgreSQL's binary format of `value` (module docs).
pub fn to_binary(value: &Numeric) -> Vec<u8> {
    let header = |count: i16, weight: i16, sign: u16, scale: u16| {
        let mut out = Vec::with_capacity(8 + 2 * count as usize);
        out.extend_from_slice(&count.to_be_bytes());
        out.extend_from_slice(&weight.to_be_bytes());
        out.extend_from_slice(&sign.to_be_bytes());
        out.extend_from_slice(&scale.to_be_bytes());
        out
    };
    let decimal = match &value.0 {
        Inner::NaN => return header(0, 0, SIGN_NAN, 0),
        Inner::Infinity => return header(0, 0, SIGN_INFINITY, 0),
        Inner::NegativeInfinity => return header(0, 0, SIGN_NEGATIVE_INFINITY, 0),
        _ => value.decimal().expect("invariant: finite"),
    };
    // Digits aligned so the point falls between groups of four.
    let scale = decimal.scale as usize;
    let mut digits = decimal.magnitude.to_decimal().into_bytes();
    if decimal.magnitude.is_zero() {
        digits.clear();
    }
    let integer_digits = digits.len().saturating_sub(scale);
    let fraction_pad = (4 - scale % 4) % 4;
    let integer_pad = (4 - integer_digits % 4) % 4;
    let leading_zeros = integer_pad + scale.saturating_sub(digits.len());
    let mut aligned = vec![b'0'; leading_zeros];
    aligned.extend_from_slice(&digits);
    aligned.extend(std::iter::repeat_n(b'0', fraction_pad));
    let mut groups: Vec<i16> = aligned
        .chunks(4)
        .map(|chunk| {
            chunk
                .iter()
                .fold(0i16, |value, digit| value * 10 + i16::from(digit - b'0'))
        })
        .collect();
    let mut weight = ((integer_digits + integer_pad) / 4) as i64 - 1;
    let leading = groups.iter().take_while(|&&group| group == 0).count();
    groups.drain(..leading);
    weight -= leading as i64;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let sign = if decimal.negative {
        SIGN_NEGATIVE
    } else {
        SIGN_POSITIVE
    };
    let mut out = header(groups.len() as i16, weight as i16, sign, scale as u16);
    for group in groups {
        out.extend_from_slice(&group.to_be_bytes());
    }
    out
}

/// Reads PostgreSQL's binary format (`numeric_recv`): digits beyond the
/// display scale are truncated away, as PostgreSQL does. Malformed input
/// is 22P03.
pub fn from_binary(bytes: &[u8]) -> Result<Numeric> {
    let invalid = |what: &str| {
        Error::sql(
            SqlState::INVALID_BINARY_REPRESENTATION,
            format!("invalid {what} in external \"numeric\" value"),
        )
    };
    let word = |index: usize| -> Result<u16> {
        bytes
            .get(2 * index..2 * index + 2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
            .ok_or_else(|| {
                Error::sql(
                    SqlState::INVALID_BINARY_REPRESENTATION,
                    "insufficient data left in message",
                )
            })
    };
    let count = word(0)? as i16;
    let weight = i64::from(word(1)? as i16);
    let sign = word(2)?;
    let scale = word(3)?;
    if count < 0 {
        return Err(invalid("length"));
    }
    if bytes.len() != 8 + 2 * count as usize {
        return Err(Error::sql(
            SqlState::INVALID_BINARY_REPRESENTATION,
            "incorrect binary data format in bind parameter",
        ));
    }
    match sign {
        SIGN_NAN => return Ok(Numeric::nan()),
        SIGN_INFINITY => return Ok(Numeric::infinity(false)),
        SIGN_NEGATIVE_INFINITY => return Ok(Numeric::infinity(true)),
        SIGN_POSITIVE | SIGN_NEGATIVE => {}
        _ => return Err(invalid("sign")),
    }
    if u32::from(scale) > MAX_SCALE {
        return Err(invalid("scale"));
    }
    let mut digits = Vec::with_capacity(4 * count as usize);
    for index in 0..count as usize {
        let group = word(4 + index)?;
        if group >= 10_000 {
            return Err(invalid("digit"));
        }
        digits.extend_from_slice(format!("{group:04}").as_bytes());
    }
    // value = digits × 10^(4 × (weight + 1 - count))
    let shift = 4 * (weight + 1 - i64::from(count));
    let magnitude = Magnitude::from_decimal(&digits);
    let scale_i = i64::from(scale);
    let magnitude = if shift + scale_i >= 0 {
        if shift + scale_i > i64::from(super::MAX_INTEGER_DIGITS) + i64::from(MAX_SCALE) {
            return Err(super::value::overflow());
        }
        magnitude.shift_left((shift + scale_i) as u32)
    } else {
        magnitude.shift_right((-(shift + scale_i)) as u32).0
    };
    Numeric::from_decimal(Decimal::new(
        sign == SIGN_NEGATIVE,
        magnitude,
        u32::from(scale),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(text: &str) -> Numeric {
        text.parse().unwrap()
    }

    #[test]
    fn keys_sort_as_values_and_equal_values_share_a_key() {
        let ordered = [
            "-Infinity",
            "-1e30",
            "-123.45",
            "-123.4",
            "-1",
            "-0.5",
            "-0.05",
            "0",
            "0.0001",
            "0.1",
            "0.101",
            "1",
            "1.5",
            "10",
            "99.99",
            "100",
            "123456789012345678901234567890",
            "Infinity",
            "NaN",
        ];
        let keys: Vec<Vec<u8>> = ordered
            .iter()
            .map(|text| {
                let mut key = Vec::new();
                encode_key(&numeric(text), &mut key);
                assert!(!key.contains(&0), "{text}: {key:?}");
                key
            })
            .collect();
        for pair in keys.windows(2) {
            assert!(pair[0] < pair[1], "{pair:?}");
        }
        let key = |text: &str| {
            let mut key = Vec::new();
            encode_key(&numeric(text), &mut key);
            key
        };
        assert_eq!(key("1.5"), key("1.500"));
        assert_eq!(key("100"), key("1e2"));
        for text in ordered {
            let encoded = key(text);
            let (decoded, length) = decode_key(&encoded, false, None).unwrap();
            assert_eq!(length, encoded.len());
            assert_eq!(decoded, numeric(text), "{text}");
            let inverted: Vec<u8> = encoded.iter().map(|byte| !byte).collect();
            assert_eq!(decode_key(&inverted, true, None).unwrap().0, numeric(text));
        }
        let (decoded, _) = decode_key(&key("1.5"), false, Some(3)).unwrap();
        assert_eq!(decoded.to_text(), "1.500");
        assert_eq!(
            decode_key(&key("0"), false, Some(2)).unwrap().0.to_text(),
            "0.00"
        );
        assert!(decode_key(&[KEY_POSITIVE, 0x81, 1, 0x70], false, None).is_err());
        assert!(decode_key(&[KEY_POSITIVE, 0x81], false, None).is_err());
    }

    #[test]
    fn rows_round_trip_and_reject_garbage() {
        for text in [
            "0",
            "-1.50",
            "92233720368547758070.5",
            "-1e40",
            "NaN",
            "Infinity",
            "-Infinity",
        ] {
            let mut bytes = Vec::new();
            encode_row(&numeric(text), &mut bytes);
            let (decoded, length) = decode_row(&bytes).unwrap();
            assert_eq!(length, bytes.len());
            assert_eq!(decoded.to_text(), numeric(text).to_text());
        }
        assert!(decode_row(&[1, 0, 0, 0, 255, 255, 255, 255]).is_err());
        assert!(decode_row(&[1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(decode_row(&[9]).is_err());
    }

    #[test]
    fn binary_format_matches_postgres() {
        // numeric_send of 1234.5678: 2 digits, weight 0... as PostgreSQL
        // sends it: [1234, 5678], weight 0, scale 4.
        assert_eq!(
            to_binary(&numeric("1234.5678")),
            [0, 2, 0, 0, 0, 0, 0, 4, 0x04, 0xD2, 0x16, 0x2E]
        );
        // 0.01: one digit 100 at weight -1, scale 2.
        assert_eq!(
            to_binary(&numeric("0.01")),
            [0, 1, 0xFF, 0xFF, 0, 0, 0, 2, 0, 100]
        );
        // 10000 = [1] at weight 1; -0.00 is zero with scale 2.
        assert_eq!(
            to_binary(&numeric("-10000")),
            [0, 1, 0, 1, 0x40, 0, 0, 0, 0, 1]
        );
        assert_eq!(to_binary(&numeric("0.00")), [0, 0, 0, 0, 0, 0, 0, 2]);
        for text in [
            "0",
            "1234.5678",
            "0.01",
            "-10000",
            "123456789.000123",
            "NaN",
            "-Infinity",
            "1e-20",
        ] {
            assert_eq!(
                from_binary(&to_binary(&numeric(text))).unwrap().to_text(),
                numeric(text).to_text()
            );
        }
        // Digits beyond the declared scale are truncated away.
        assert_eq!(
            from_binary(&[0, 2, 0, 0, 0, 0, 0, 2, 0, 1, 0x16, 0x2E])
                .unwrap()
                .to_text(),
            "1.56"
        );
        assert!(from_binary(&[0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10]).is_err());
        assert!(from_binary(&[0, 1, 0, 0]).is_err());
    }
}
