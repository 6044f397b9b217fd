//! The crate's fast hash function, for hash tables on hot paths: the
//! executor's (hash join, hash aggregation, DISTINCT, set operations, IN
//! lists, recursive CTEs) and spill partitioning, the buffer pool's page
//! table, and SSI's read locks.
//!
//! The standard library's SipHash is built to resist chosen-key flooding
//! at a cost of some 20 ns per key; the executor hashes every row of a join
//! or grouping, so that cost was a tenth of a join's time, and the buffer
//! pool hashes a page number on every page access. This hasher mixes each
//! word written with one folded multiply (the 128-bit product's halves
//! XORed, the mixing step of wyhash and foldhash):
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
//! (both inputs of a Grace join partition by the same function) and SSI's
//! key fingerprints rely on.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// A hash map hashed with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, FastHashState>;
/// A hash set hashed with [`FastHasher`].
pub type FastSet<K> = HashSet<K, FastHashState>;

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

/// Builds [`FastHasher`]s: the `S` of [`FastMap`] and [`FastSet`].
#[derive(Clone, Copy, Debug, Default)]
pub struct FastHashState;

impl BuildHasher for FastHashState {
    type Hasher = FastHasher;

    #[inline]
    fn build_hasher(&self) -> FastHasher {
        let seeds = seeds();
        FastHasher {
            state: seeds[0],
            seeds: [seeds[1], seeds[2], seeds[3]],
        }
    }
}

/// A fast, process-seeded hasher (module docs).
#[derive(Clone, Debug)]
pub struct FastHasher {
    state: u64,
    seeds: [u64; 3],
}

impl FastHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.state = fold(word ^ self.seeds[0], self.state ^ self.seeds[1]);
    }
}

impl Hasher for FastHasher {
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

    #[test]
    fn words_spread_over_the_low_bits() {
        // Page numbers in a row land evenly on the buckets a table
        // indexes by, and differ from each other.
        let hashes: Vec<u64> = (0..10_000u64).map(|n| FastHashState.hash_one(n)).collect();
        let distinct: FastSet<u64> = hashes.iter().copied().collect();
        assert_eq!(distinct.len(), hashes.len());
        let mut buckets = [0u32; 64];
        for hash in &hashes {
            buckets[(hash & 63) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|&count| (100..220).contains(&count)),
            "{buckets:?}"
        );
        // Byte strings that differ only in a trailing zero byte differ.
        assert_ne!(
            FastHashState.hash_one(b"a".as_slice()),
            FastHashState.hash_one(b"a\0".as_slice())
        );
    }
}
