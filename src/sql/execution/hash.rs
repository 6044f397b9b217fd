//! The executor's hash tables (hash join, hash aggregation, DISTINCT, set
//! operations, IN lists, recursive CTEs) and spill partitioning hash rows
//! and values with the crate's fast, process-seeded hasher
//! ([`crate::hash`]); these are their names for it.

/// A hash map keyed by rows or values.
pub type RowMap<K, V> = crate::hash::FastMap<K, V>;
/// A hash set of rows or values.
pub type RowSet<K> = crate::hash::FastSet<K>;

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;
    use crate::hash::FastHashState;
    use crate::sql::types::Value;

    fn hash(values: &[Value]) -> u64 {
        FastHashState.hash_one(values)
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
