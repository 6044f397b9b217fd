//! Rows changed per tree since someone last looked: the count an automatic
//! `ANALYZE` compares with a table's size to decide it is stale (what
//! PostgreSQL's statistics collector keeps as `n_mod_since_analyze`).
//!
//! A transaction adds its writes per tree when it commits; aborted writes
//! never count. The counts live in memory only: after a restart every table
//! starts from zero, as PostgreSQL's do after a crash.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::storage::TreeId;

/// Committed writes per tree (see the module docs).
#[derive(Debug, Default)]
pub struct ChangeCounts {
    counts: Mutex<HashMap<TreeId, u64>>,
}

impl ChangeCounts {
    /// Adds a committed transaction's writes (`(tree, …)` in write order;
    /// writes of one tree usually follow each other, so runs are summed
    /// before the lock is taken).
    pub(super) fn add_committed<T>(&self, writes: &[(TreeId, Vec<u8>, T)]) {
        let mut runs: Vec<(TreeId, u64)> = Vec::new();
        for (tree, _, _) in writes {
            match runs.last_mut() {
                Some((last, count)) if last == tree => *count += 1,
                _ => runs.push((*tree, 1)),
            }
        }
        let mut counts = self.counts.lock();
        for (tree, count) in runs {
            *counts.entry(tree).or_default() += count;
        }
    }

    /// Committed writes of `tree` since it was last reset.
    pub fn get(&self, tree: TreeId) -> u64 {
        self.counts.lock().get(&tree).copied().unwrap_or(0)
    }

    /// Takes `seen` off `tree`'s count: the writes an analysis started
    /// after (later ones keep counting toward the next).
    pub fn consume(&self, tree: TreeId, seen: u64) {
        if let Some(count) = self.counts.lock().get_mut(&tree) {
            *count = count.saturating_sub(seen);
        }
    }

    /// Forgets a dropped tree.
    pub(super) fn forget(&self, tree: TreeId) {
        self.counts.lock().remove(&tree);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_writes_are_counted_per_tree_and_consumed() {
        let counts = ChangeCounts::default();
        let writes: Vec<(TreeId, Vec<u8>, u64)> = vec![
            (20, b"a".to_vec(), 1),
            (20, b"b".to_vec(), 1),
            (21, b"a".to_vec(), 1),
            (20, b"c".to_vec(), 1),
        ];
        counts.add_committed(&writes);
        assert_eq!((counts.get(20), counts.get(21), counts.get(22)), (3, 1, 0));
        counts.consume(20, 2);
        assert_eq!(counts.get(20), 1);
        counts.consume(21, 5);
        assert_eq!(counts.get(21), 0);
        counts.forget(20);
        assert_eq!(counts.get(20), 0);
    }
}
