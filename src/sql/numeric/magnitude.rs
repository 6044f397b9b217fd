//! Unsigned integers of any size in base 10⁹, the coefficients of large
//! `numeric` values.
//!
//! A limb holds nine decimal digits, least significant limb first, so
//! decimal text and scaling by powers of ten are limb moves plus one small
//! multiplication, never a base conversion. Invariant 1: every limb is below
//! 10⁹ and the most significant limb is not zero (zero has no limbs), so
//! each number has exactly one representation and `==` is numeric
//! equality. Division is Knuth's Algorithm D (TAOCP vol. 2, 4.3.1) in this
//! base: a normalising factor makes the divisor's top limb at least half
//! the base, so each quotient limb estimated from the top two limbs is at
//! most two too large.

use std::cmp::Ordering;

/// The base: one limb holds nine decimal digits.
pub(super) const BASE: u64 = 1_000_000_000;

/// 10⁰ … 10⁹.
const POWERS_OF_TEN: [u32; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Magnitude {
    limbs: Vec<u32>,
}

impl Magnitude {
    pub(super) fn zero() -> Magnitude {
        Magnitude { limbs: Vec::new() }
    }

    pub(super) fn from_u128(mut value: u128) -> Magnitude {
        let mut limbs = Vec::new();
        while value > 0 {
            limbs.push((value % BASE as u128) as u32);
            value /= BASE as u128;
        }
        Magnitude { limbs }
    }

    /// The limbs, least significant first (for the row encoding).
    pub(super) fn limbs(&self) -> &[u32] {
        &self.limbs
    }

    /// A magnitude from stored limbs; `None` unless they keep invariant 1.
    pub(super) fn from_limbs(limbs: Vec<u32>) -> Option<Magnitude> {
        let canonical = limbs.iter().all(|&limb| u64::from(limb) < BASE)
            && limbs.last().is_none_or(|&top| top != 0);
        canonical.then_some(Magnitude { limbs })
    }

    pub(super) fn to_u128(&self) -> Option<u128> {
        if self.limbs.len() > 5 {
            return None;
        }
        let mut value: u128 = 0;
        for &limb in self.limbs.iter().rev() {
            value = value.checked_mul(BASE as u128)?.checked_add(limb as u128)?;
        }
        Some(value)
    }

    pub(super) fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    fn trim(&mut self) {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
    }

    pub(super) fn add(&self, other: &Magnitude) -> Magnitude {
        let (long, short) = if self.limbs.len() >= other.limbs.len() {
            (self, other)
        } else {
            (other, self)
        };
        let mut limbs = Vec::with_capacity(long.limbs.len() + 1);
        let mut carry = 0u64;
        for (index, &limb) in long.limbs.iter().enumerate() {
            let sum =
                u64::from(limb) + u64::from(short.limbs.get(index).copied().unwrap_or(0)) + carry;
            limbs.push((sum % BASE) as u32);
            carry = sum / BASE;
        }
        if carry > 0 {
            limbs.push(carry as u32);
        }
        Magnitude { limbs }
    }

    /// `self - other`; the caller guarantees `self >= other`.
    pub(super) fn sub(&self, other: &Magnitude) -> Magnitude {
        debug_assert!(self.cmp(other) != Ordering::Less);
        let mut limbs = Vec::with_capacity(self.limbs.len());
        let mut borrow = 0i64;
        for (index, &limb) in self.limbs.iter().enumerate() {
            let mut difference =
                i64::from(limb) - i64::from(other.limbs.get(index).copied().unwrap_or(0)) - borrow;
            borrow = 0;
            if difference < 0 {
                difference += BASE as i64;
                borrow = 1;
            }
            limbs.push(difference as u32);
        }
        let mut result = Magnitude { limbs };
        result.trim();
        result
    }

    pub(super) fn mul(&self, other: &Magnitude) -> Magnitude {
        if self.is_zero() || other.is_zero() {
            return Magnitude::zero();
        }
        let mut limbs = vec![0u32; self.limbs.len() + other.limbs.len()];
        for (i, &a) in self.limbs.iter().enumerate() {
            let mut carry = 0u64;
            for (j, &b) in other.limbs.iter().enumerate() {
                let product = u64::from(a) * u64::from(b) + u64::from(limbs[i + j]) + carry;
                limbs[i + j] = (product % BASE) as u32;
                carry = product / BASE;
            }
            let mut position = i + other.limbs.len();
            while carry > 0 {
                let sum = u64::from(limbs[position]) + carry;
                limbs[position] = (sum % BASE) as u32;
                carry = sum / BASE;
                position += 1;
            }
        }
        let mut result = Magnitude { limbs };
        result.trim();
        result
    }

    /// `self × factor + addend`, in place (`factor`, `addend` below the base).
    fn mul_small_add(&mut self, factor: u32, addend: u32) {
        let mut carry = u64::from(addend);
        for limb in &mut self.limbs {
            let product = u64::from(*limb) * u64::from(factor) + carry;
            *limb = (product % BASE) as u32;
            carry = product / BASE;
        }
        if carry > 0 {
            self.limbs.push(carry as u32);
        }
        self.trim();
    }

    /// Divides in place by `divisor` (nonzero, below the base); returns the remainder.
    fn div_small(&mut self, divisor: u32) -> u32 {
        let mut remainder = 0u64;
        for limb in self.limbs.iter_mut().rev() {
            let current = remainder * BASE + u64::from(*limb);
            *limb = (current / u64::from(divisor)) as u32;
            remainder = current % u64::from(divisor);
        }
        self.trim();
        remainder as u32
    }

    /// `self × 10^exponent`.
    pub(super) fn shift_left(&self, exponent: u32) -> Magnitude {
        if self.is_zero() {
            return Magnitude::zero();
        }
        let mut limbs = vec![0u32; (exponent / 9) as usize];
        limbs.extend_from_slice(&self.limbs);
        let mut result = Magnitude { limbs };
        result.mul_small_add(POWERS_OF_TEN[(exponent % 9) as usize], 0);
        result
    }

    /// `self ÷ 10^exponent`, truncated, and whether anything nonzero was
    /// cut off; the cut-off digits' first digit decides rounding, so it
    /// is returned too (0 when nothing was cut).
    pub(super) fn shift_right(&self, exponent: u32) -> (Magnitude, u32, bool) {
        let whole_limbs = (exponent / 9) as usize;
        if whole_limbs >= self.limbs.len() {
            // Everything is cut off: the first cut digit is the one at
            // position exponent - 1 counted from the bottom.
            let first = self.digit_at(exponent.saturating_sub(1));
            let rest = exponent > 0 && !self.is_zero();
            return (Magnitude::zero(), first, rest);
        }
        let first = if exponent == 0 {
            0
        } else {
            self.digit_at(exponent - 1)
        };
        let cut_limbs_nonzero = self.limbs[..whole_limbs].iter().any(|&limb| limb != 0);
        let mut result = Magnitude {
            limbs: self.limbs[whole_limbs..].to_vec(),
        };
        let remainder = result.div_small(POWERS_OF_TEN[(exponent % 9) as usize]);
        (result, first, cut_limbs_nonzero || remainder != 0)
    }

    /// The decimal digit at `position` (0 is the units digit).
    fn digit_at(&self, position: u32) -> u32 {
        let limb = self
            .limbs
            .get((position / 9) as usize)
            .copied()
            .unwrap_or(0);
        limb / POWERS_OF_TEN[(position % 9) as usize] % 10
    }

    /// `self ÷ 10`, in place, when the units digit is zero; whether it was.
    pub(super) fn strip_trailing_zero(&mut self) -> bool {
        if self.is_zero() || !self.limbs[0].is_multiple_of(10) {
            return false;
        }
        self.div_small(10);
        true
    }

    pub(super) fn decimal_digit_count(&self) -> u32 {
        match self.limbs.last() {
            None => 1,
            Some(&top) => {
                let top_digits = POWERS_OF_TEN[1..]
                    .iter()
                    .position(|&power| top < power)
                    .map_or(10, |index| index + 1) as u32;
                (self.limbs.len() as u32 - 1) * 9 + top_digits
            }
        }
    }

    /// The decimal digits, without leading zeros (`"0"` for zero).
    pub(super) fn to_decimal(&self) -> String {
        let Some((top, rest)) = self.limbs.split_last() else {
            return "0".to_string();
        };
        let mut text = top.to_string();
        for limb in rest.iter().rev() {
            text.push_str(&format!("{limb:09}"));
        }
        text
    }

    /// The number spelled by ASCII decimal `digits` (leading zeros allowed).
    pub(super) fn from_decimal(digits: &[u8]) -> Magnitude {
        let mut limbs = Vec::with_capacity(digits.len() / 9 + 1);
        let mut end = digits.len();
        while end > 0 {
            let start = end.saturating_sub(9);
            let limb = digits[start..end]
                .iter()
                .fold(0u32, |value, digit| value * 10 + u32::from(digit - b'0'));
            limbs.push(limb);
            end = start;
        }
        let mut result = Magnitude { limbs };
        result.trim();
        result
    }

    /// Quotient and remainder; `divisor` is not zero.
    pub(super) fn div_rem(&self, divisor: &Magnitude) -> (Magnitude, Magnitude) {
        assert!(!divisor.is_zero(), "invariant: the caller checks for zero");
        if self.cmp(divisor) == Ordering::Less {
            return (Magnitude::zero(), self.clone());
        }
        if divisor.limbs.len() == 1 {
            let mut quotient = self.clone();
            let remainder = quotient.div_small(divisor.limbs[0]);
            return (quotient, Magnitude::from_u128(u128::from(remainder)));
        }
        // Normalise: scale both so the divisor's top limb is at least BASE / 2.
        let top = u64::from(*divisor.limbs.last().expect("invariant: nonzero"));
        let factor = (BASE / (top + 1)) as u32;
        let mut divisor = divisor.clone();
        divisor.mul_small_add(factor, 0);
        let mut dividend = self.clone();
        dividend.mul_small_add(factor, 0);
        let n = divisor.limbs.len();
        // The dividend gets one more limb than it had, possibly zero.
        dividend.limbs.resize(self.limbs.len() + 1, 0);
        let m = dividend.limbs.len() - n;
        let v = &divisor.limbs;
        let u = &mut dividend.limbs;
        let mut quotient = vec![0u32; m];
        let (v_top, v_next) = (u64::from(v[n - 1]), u64::from(v[n - 2]));
        for j in (0..m).rev() {
            let numerator = u64::from(u[j + n]) * BASE + u64::from(u[j + n - 1]);
            let mut estimate = numerator / v_top;
            let mut remainder = numerator % v_top;
            while estimate >= BASE || estimate * v_next > remainder * BASE + u64::from(u[j + n - 2])
            {
                estimate -= 1;
                remainder += v_top;
                if remainder >= BASE {
                    break;
                }
            }
            // u[j ..= j+n] -= estimate × v
            let mut carry = 0u64;
            let mut borrow = 0i64;
            for i in 0..n {
                let product = estimate * u64::from(v[i]) + carry;
                carry = product / BASE;
                let mut difference = i64::from(u[i + j]) - (product % BASE) as i64 - borrow;
                borrow = 0;
                if difference < 0 {
                    difference += BASE as i64;
                    borrow = 1;
                }
                u[i + j] = difference as u32;
            }
            let top_difference = i64::from(u[j + n]) - carry as i64 - borrow;
            if top_difference < 0 {
                // The estimate was one too large: add the divisor back,
                // dropping the carry out of the top limb.
                u[j + n] = (top_difference + BASE as i64) as u32;
                estimate -= 1;
                let mut carry = 0u64;
                for i in 0..n {
                    let sum = u64::from(u[i + j]) + u64::from(v[i]) + carry;
                    u[i + j] = (sum % BASE) as u32;
                    carry = sum / BASE;
                }
                u[j + n] = ((u64::from(u[j + n]) + carry) % BASE) as u32;
            } else {
                u[j + n] = top_difference as u32;
            }
            quotient[j] = estimate as u32;
        }
        let mut quotient = Magnitude { limbs: quotient };
        quotient.trim();
        dividend.limbs.truncate(n);
        dividend.trim();
        dividend.div_small(factor);
        (quotient, dividend)
    }
}

impl PartialOrd for Magnitude {
    fn partial_cmp(&self, other: &Magnitude) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Magnitude {
    fn cmp(&self, other: &Magnitude) -> Ordering {
        self.limbs
            .len()
            .cmp(&other.limbs.len())
            .then_with(|| self.limbs.iter().rev().cmp(other.limbs.iter().rev()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decimal(text: &str) -> Magnitude {
        Magnitude::from_decimal(text.as_bytes())
    }

    #[test]
    fn decimal_text_round_trips() {
        for text in [
            "0",
            "7",
            "999999999",
            "1000000000",
            "123456789012345678901234567890",
        ] {
            assert_eq!(decimal(text).to_decimal(), text);
        }
        assert_eq!(decimal("000120").to_decimal(), "120");
        assert_eq!(decimal("1000000000").decimal_digit_count(), 10);
        assert_eq!(decimal("999999999").decimal_digit_count(), 9);
        assert_eq!(Magnitude::zero().decimal_digit_count(), 1);
    }

    #[test]
    fn arithmetic_agrees_with_u128() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2000 {
            let a = u128::from(next()) * u128::from(next() >> (next() % 64));
            let b = u128::from(next() >> (next() % 64)).max(1);
            let (x, y) = (Magnitude::from_u128(a), Magnitude::from_u128(b));
            assert_eq!(x.add(&y).to_u128(), a.checked_add(b));
            if a >= b {
                assert_eq!(x.sub(&y).to_u128(), Some(a - b));
            }
            let (quotient, remainder) = x.div_rem(&y);
            assert_eq!(quotient.to_u128(), Some(a / b), "{a} / {b}");
            assert_eq!(remainder.to_u128(), Some(a % b), "{a} % {b}");
            if let Some(product) = a.checked_mul(b) {
                assert_eq!(x.mul(&y).to_u128(), Some(product));
            }
            assert_eq!(x.cmp(&y), a.cmp(&b));
        }
    }

    #[test]
    fn long_division_checks_against_multiplication() {
        let a = decimal("98765432109876543210987654321098765432109876543210");
        let b = decimal("123456789012345678901");
        let (quotient, remainder) = a.div_rem(&b);
        assert!(remainder < b);
        assert_eq!(quotient.mul(&b).add(&remainder), a);
        // A divisor whose top limb is small needs the add-back step.
        let c = decimal("1000000000000000000000000000000000000");
        let d = decimal("1000000000999999999");
        let (quotient, remainder) = c.div_rem(&d);
        assert_eq!(quotient.mul(&d).add(&remainder), c);
        assert!(remainder < d);
    }

    #[test]
    fn shifting_by_powers_of_ten() {
        let a = decimal("123456789");
        assert_eq!(a.shift_left(11).to_decimal(), "12345678900000000000");
        assert_eq!(a.shift_right(4), (decimal("12345"), 6, true));
        assert_eq!(decimal("120000").shift_right(4), (decimal("12"), 0, false));
        assert_eq!(a.shift_right(12), (Magnitude::zero(), 0, true));
        assert_eq!(a.shift_right(9), (Magnitude::zero(), 1, true));
        let mut b = decimal("1200");
        assert!(b.strip_trailing_zero() && b.strip_trailing_zero());
        assert!(!b.strip_trailing_zero());
        assert_eq!(b.to_decimal(), "12");
    }
}
