//! `MemoryEngine`: the in-memory model of the [`Engine`] trait, one
//! `BTreeMap` per tree behind a lock. It defines the expected behaviour that
//! the B+tree engine is property-tested against, and backs unit tests of the
//! layers above. Nothing is persisted: `flush` only has the checkpoint hook
//! store its state in the trees, as a checkpoint would, so that a layer
//! reopened over the same engine finds it.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::engine::{CheckpointHook, Direction, Engine, EntryBatch, KeyRange, TreeId, even_picks};
use crate::error::{Error, Result};

/// One tree of the model: an ordered map of keys to values.
type TreeMap = BTreeMap<Vec<u8>, Vec<u8>>;

/// The in-memory engine.
#[derive(Default)]
pub struct MemoryEngine {
    trees: RwLock<HashMap<TreeId, TreeMap>>,
    hook: Mutex<Option<Arc<dyn CheckpointHook>>>,
}

impl MemoryEngine {
    pub fn new() -> MemoryEngine {
        MemoryEngine::default()
    }
}

fn missing(tree: TreeId) -> Error {
    Error::Internal(format!("tree {tree} does not exist"))
}

fn as_ref_bound(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(key) => Bound::Included(key.as_slice()),
        Bound::Excluded(key) => Bound::Excluded(key.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl Engine for MemoryEngine {
    fn create_tree(&self, tree: TreeId) -> Result<()> {
        let mut trees = self.trees.write();
        if trees.contains_key(&tree) {
            return Err(Error::Internal(format!("tree {tree} already exists")));
        }
        trees.insert(tree, BTreeMap::new());
        Ok(())
    }

    fn drop_tree(&self, tree: TreeId) -> Result<()> {
        self.trees
            .write()
            .remove(&tree)
            .map(|_| ())
            .ok_or_else(|| missing(tree))
    }

    fn tree_exists(&self, tree: TreeId) -> Result<bool> {
        Ok(self.trees.read().contains_key(&tree))
    }

    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let trees = self.trees.read();
        Ok(trees
            .get(&tree)
            .ok_or_else(|| missing(tree))?
            .get(key)
            .cloned())
    }

    fn insert(&self, tree: TreeId, key: &[u8], value: &[u8]) -> Result<()> {
        let mut trees = self.trees.write();
        trees
            .get_mut(&tree)
            .ok_or_else(|| missing(tree))?
            .insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn delete(&self, tree: TreeId, key: &[u8]) -> Result<bool> {
        let mut trees = self.trees.write();
        Ok(trees
            .get_mut(&tree)
            .ok_or_else(|| missing(tree))?
            .remove(key)
            .is_some())
    }

    fn split_keys(&self, tree: TreeId, range: &KeyRange, parts: usize) -> Result<Vec<Vec<u8>>> {
        let trees = self.trees.read();
        let map = trees.get(&tree).ok_or_else(|| missing(tree))?;
        if range.is_empty() || parts < 2 {
            return Ok(Vec::new());
        }
        let bounds = (as_ref_bound(&range.start), as_ref_bound(&range.end));
        let keys: Vec<&Vec<u8>> = map.range::<[u8], _>(bounds).map(|(key, _)| key).collect();
        Ok(even_picks(&keys, parts - 1)
            .into_iter()
            .map(|key| key.to_vec())
            .collect())
    }

    fn scan_into(
        &self,
        tree: TreeId,
        range: &KeyRange,
        direction: Direction,
        limit: usize,
        out: &mut EntryBatch,
    ) -> Result<()> {
        out.clear();
        let trees = self.trees.read();
        // Look the tree up first: a missing tree fails even for an empty range
        // (invariant 3), as in `BTreeEngine`.
        let map = trees.get(&tree).ok_or_else(|| missing(tree))?;
        if range.is_empty() {
            return Ok(());
        }
        let bounds = (as_ref_bound(&range.start), as_ref_bound(&range.end));
        let entries = map.range::<[u8], _>(bounds);
        let mut push = |(key, value): (&Vec<u8>, &Vec<u8>)| out.push(key, value);
        match direction {
            Direction::Forward => entries.take(limit).for_each(&mut push),
            Direction::Backward => entries.rev().take(limit).for_each(&mut push),
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        let hook = self.hook.lock().clone();
        if let Some(hook) = hook {
            hook.persist(&mut |tree, key, value| self.insert(tree, key, value))?;
        }
        Ok(())
    }

    /// Nothing is logged: the model keeps no data across a restart.
    fn log_position(&self) -> u64 {
        0
    }

    fn wait_durable(&self, _position: u64) -> Result<()> {
        Ok(())
    }

    fn fatal_error(&self) -> Option<String> {
        None
    }

    /// The state the record describes lives in the hook until a flush.
    fn append_logical(&self, _payload: &[u8]) -> Result<u64> {
        Ok(0)
    }

    fn set_checkpoint_hook(&self, hook: Arc<dyn CheckpointHook>) -> Result<()> {
        let mut slot = self.hook.lock();
        if let Some(old) = slot.take() {
            old.persist(&mut |tree, key, value| self.insert(tree, key, value))?;
        }
        *slot = Some(hook);
        Ok(())
    }

    fn take_recovered_logical(&self) -> Vec<Vec<u8>> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::engine::scan;

    #[test]
    fn scan_in_both_directions_across_batches() {
        let engine = MemoryEngine::new();
        engine.create_tree(7).unwrap();
        for i in 0u32..1000 {
            engine.insert(7, &i.to_be_bytes(), b"v").unwrap();
        }
        let range = KeyRange {
            start: Bound::Included(10u32.to_be_bytes().to_vec()),
            end: Bound::Excluded(900u32.to_be_bytes().to_vec()),
        };
        let forward: Vec<_> = scan(&engine, 7, range.clone(), Direction::Forward)
            .map(|e| e.unwrap().0)
            .collect();
        assert_eq!(forward.len(), 890);
        assert_eq!(forward[0], 10u32.to_be_bytes());
        let backward: Vec<_> = scan(&engine, 7, range, Direction::Backward)
            .map(|e| e.unwrap().0)
            .collect();
        assert_eq!(backward.len(), 890);
        assert_eq!(backward[0], 899u32.to_be_bytes());
        assert!(engine.get(8, b"x").is_err());
    }

    #[test]
    fn empty_range_scan_of_a_missing_tree_fails() {
        let engine = MemoryEngine::new();
        let empty = KeyRange {
            start: Bound::Included(b"b".to_vec()),
            end: Bound::Excluded(b"a".to_vec()),
        };
        assert!(
            engine
                .scan_batch(3, &empty, Direction::Forward, 10)
                .is_err()
        );
        engine.create_tree(3).unwrap();
        assert!(
            engine
                .scan_batch(3, &empty, Direction::Forward, 10)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn prefix_range() {
        let range = KeyRange::prefix(&[1, 0xFF]);
        assert!(range.contains(&[1, 0xFF, 3]));
        assert!(!range.contains(&[2]));
        assert!(range.contains(&[1, 0xFF]));
        assert_eq!(range.end, Bound::Excluded(vec![2]));
    }
}
