//! The hash function of the executor's hash tables (hash join, hash
//! aggregation, DISTINCT, set operations, IN lists, recursive CTEs) and of
//! spill partitioning.
//!
//! The standard library's SipHash is built to resist chosen-key flooding
//! at a cost of some 20 ns per key; the executor hashes every row of a join
//! or grouping, so that cost was a tenth of a join's time. This hasher
//! mixes each word written with one folded multiply (the 128-bit product's
//! halves XORed, the mixing step of wyhash and foldhash):
//!
//! ```text
//!   state₀ = seed₀
//!   write word x:  state ← fold((x ⊕ seed₁) · (state ⊕ seed₂))
//!   finish:        fold(state · seed₃)
//! ```
//!
//! The seeds are drawn once per process from the standard library's random
//! source, so which keys collide is not predictable from outside (the
//! property SipHash's random keys give, not its proof); equal keys hash
//! equally for the life of the process, which spill partitioning needs
//! (both inputs of a Grace join partition by the same function).

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// A hash map keyed by rows or values, hashed with [`RowHasher`].
pub type RowMap<K, V> = HashMap<K, V, RowHashState>;
/// A hash set of rows or values, hashed with [`RowHasher`].
pub type RowSet<K> = HashSet<K, RowHashState>;

/// The 128-bit product of `a` and `b`, its halves folded together.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// The process's seeds, drawn on first use.
fn seeds() -> &'static [u64; 4] {
    static SEEDS: OnceLock<[u64; 4]> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let random = RandomState::new();
        // An odd multiplier keeps the final fold from losing bits.
        [0u64, 1, 2, 3].map(|index| random.hash_one(index) | 1)
    })
}

/// Builds [`RowHasher`]s; the `S` of the executor's hash maps.
#[derive(Clone, Copy, Debug, Default)]
pub struct RowHashState;

impl BuildHasher for RowHashState {
    type Hasher = RowHasher;

    #[inline]
    fn build_hasher(&self) -> RowHasher {
        let seeds = seeds();
        RowHasher {
            state: seeds[0],
            seeds: [seeds[1], seeds[2], seeds[3]],
        }
    }
}

/// A fast, process-seeded hasher (module docs).
#[derive(Clone, Debug)]
pub struct RowHasher {
    state: u64,
    seeds: [u64; 3],
}

impl RowHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.state = fold(word ^ self.seeds[0], self.state ^ self.seeds[1]);
    }
}

impl Hasher for RowHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.mix(u64::from_le_bytes(
                chunk.try_into().expect("invariant: chunks of eight bytes"),
            ));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length keeps "a" and "a\0" apart.
            self.mix(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, value: u8) {
        self.mix(u64::from(value));
    }

    #[inline]
    fn write_u32(&mut self, value: u32) {
        self.mix(u64::from(value));
    }

    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.mix(value);
    }

    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.mix(value as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        fold(self.state, self.seeds[2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::types::Value;

    fn hash(values: &[Value]) -> u64 {
        RowHashState.hash_one(values)
    }

    #[test]
    fn equal_values_hash_equally_across_types() {
        assert_eq!(
            hash(&[Value::Integer(7), Value::Text("a".into())]),
            hash(&[Value::BigInt(7), Value::Text("a".into())])
        );
        assert_eq!(hash(&[Value::Double(2.0)]), hash(&[Value::SmallInt(2)]));
    }

    #[test]
    fn different_rows_spread() {
        // Keys that differ in one low bit, in their length, or in a
        // trailing zero byte land on distinct hashes and spread over the
        // low bits a table indexes by.
        let mut hashes: Vec<u64> = (0..10_000i64).map(|i| hash(&[Value::BigInt(i)])).collect();
        hashes.push(hash(&[Value::Text("a".into())]));
        hashes.push(hash(&[Value::Text("a\0".into())]));
        hashes.push(hash(&[Value::Text("a".into()), Value::Null]));
        let distinct: RowSet<u64> = hashes.iter().copied().collect();
        assert_eq!(distinct.len(), hashes.len());
        let mut buckets = [0u32; 64];
        for hash in &hashes[..10_000] {
            buckets[(hash & 63) as usize] += 1;
        }
        // 10,000 keys over 64 buckets: about 156 each.
        assert!(
            buckets.iter().all(|&count| (100..220).contains(&count)),
            "{buckets:?}"
        );
    }
}
