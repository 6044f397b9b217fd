//! `numeric`: exact decimal numbers of any size, with PostgreSQL's scale
//! rules, `NaN` and the infinities.
//!
//! A finite value is `± coefficient × 10^-scale`. The scale is the
//! *display scale* (PostgreSQL's `dscale`): how many digits after the
//! point the value prints with, so `1.50` and `1.5` are equal values with
//! different scales, and arithmetic decides each result's scale the way
//! PostgreSQL does (`arithmetic.rs`). Values whose coefficient fits an
//! `i64` live inline (`Value` stays 24 bytes and sums of money never
//! allocate); larger ones share a base-10⁹ magnitude (`magnitude.rs`).
//!
//! ```text
//!   Numeric ─┬─ Small { coefficient: i64, scale: u16 }     most values
//!            ├─ Large(Arc { negative, scale, magnitude })   beyond i64
//!            └─ NaN | Infinity | NegativeInfinity
//! ```
//!
//! Invariants:
//! 1. A value has one representation: `Small` whenever the coefficient
//!    fits an `i64`, and zero is never negative.
//! 2. The scale is at most [`MAX_SCALE`] and the integer part at most
//!    [`MAX_INTEGER_DIGITS`] digits, PostgreSQL's storage limits; results
//!    beyond them fail with 22003 "value overflows numeric format".
//! 3. Order is by value (`1.5 = 1.50`), with `-Infinity` below every
//!    number, `Infinity` above, and `NaN` above `Infinity` and equal to
//!    itself, as in PostgreSQL; hashing and key encoding agree with it.
//!
//! Where basalt deviates from PostgreSQL: PostgreSQL keeps base-10000
//! digits; basalt keeps a binary `i64` or base-10⁹ limbs. Results are the
//! same because every rule is stated in decimal digits (the division
//! scale, which PostgreSQL words in base-10000 digits, is computed from
//! the same quantities in `arithmetic.rs`).

mod arithmetic;
mod encode;
mod magnitude;
mod text;
mod value;

pub use encode::{
    decode_key as decode_numeric_key, decode_row as decode_numeric_row,
    encode_key as encode_numeric_key, encode_row as encode_numeric_row, from_binary, to_binary,
};
pub use text::NumericModifier;
pub use value::{MAX_INTEGER_DIGITS, MAX_SCALE, Numeric};
