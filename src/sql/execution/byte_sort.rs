//! Sorting byte strings within a memory budget: an index build sorts its
//! entries by their encoded bytes, which is the index's own order, so the
//! B+tree receives them ascending. Every insert then lands in the
//! rightmost leaf, which splits to keep 90% of a page
//! (`node::RIGHTMOST_LEAF_FILL`), the fill PostgreSQL's sorted builds
//! leave; entries inserted in table order land all over the tree and
//! leave its leaves about 70% full, and every insert misses the cache.
//!
//! ```text
//!   push(key, tag) ──► in memory ── past the budget: sorted, written ──► run file
//!                                                                          │ …
//!   finish ─► no run file: the memory sorted, read out
//!             run files: the memory written as one more run; groups of
//!             MAX_FAN_OUT runs merged into one until MAX_FAN_OUT are
//!             left; those merged as they are read (a heap of run heads)
//! ```
//!
//! Each item is a key and a `u64` tag the caller attaches (an index build
//! keeps what it knows about the entry there). Items come out ordered by
//! key, then tag. A run file is a spill file (`spill.rs`) of records
//! `tag u64 LE ‖ key`, so its reads are checked like every spill file's.
//!
//! Invariants:
//! 1. Memory held is at most the budget plus one item (the one that
//!    crossed it), plus [`SPILL_BUFFER`] per open run file, at most
//!    [`MAX_FAN_OUT`] of them.
//! 2. What comes out is exactly what went in, each item once, in order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use super::spill::{MAX_FAN_OUT, RowFile, RowReader, RowWriter, SpillSpace};
use crate::error::{Error, Result};

#[cfg(doc)]
use super::spill::SPILL_BUFFER;

/// What an item costs in memory beyond its key's bytes: the `Vec` and tag
/// in the item list, and the allocator's block header.
const ITEM_OVERHEAD: usize = 48;

/// One item: a key and its tag.
pub type Item = (Vec<u8>, u64);

/// Collects items, spilling sorted runs past its budget
/// ([`ByteSorter::finish`] reads them back in order).
pub struct ByteSorter {
    space: Arc<SpillSpace>,
    budget: usize,
    items: Vec<Item>,
    held: usize,
    runs: Vec<RowFile>,
}

impl ByteSorter {
    /// A sorter holding up to `budget` bytes of items in memory, spilling
    /// to files in `space` beyond it.
    pub fn new(space: Arc<SpillSpace>, budget: usize) -> ByteSorter {
        ByteSorter {
            space,
            budget,
            items: Vec::new(),
            held: 0,
            runs: Vec::new(),
        }
    }

    /// Adds an item.
    pub fn push(&mut self, key: &[u8], tag: u64) -> Result<()> {
        self.items.push((key.to_vec(), tag));
        self.held += key.len() + ITEM_OVERHEAD;
        if self.held > self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Sorts the items in memory and writes them as one run.
    fn spill(&mut self) -> Result<()> {
        self.items.sort_unstable();
        let mut items = self.items.drain(..);
        let run = write_run(&self.space, || Ok(items.next()))?;
        self.runs.push(run);
        self.held = 0;
        Ok(())
    }

    /// Whether any run was written to a file.
    pub fn spilled(&self) -> bool {
        !self.runs.is_empty()
    }

    /// Everything pushed, in order.
    pub fn finish(mut self) -> Result<SortedBytes> {
        if self.runs.is_empty() {
            self.items.sort_unstable();
            return Ok(SortedBytes::Memory(self.items.into_iter()));
        }
        if !self.items.is_empty() {
            self.spill()?;
        }
        // Fewer, longer runs until one merge can read them all at once.
        while self.runs.len() > MAX_FAN_OUT {
            let group: Vec<RowFile> = self.runs.drain(..MAX_FAN_OUT).collect();
            let mut merge = Merge::open(&group)?;
            drop(group);
            let run = write_run(&self.space, || merge.next())?;
            self.runs.push(run);
        }
        Ok(SortedBytes::Merge(Merge::open(&self.runs)?))
    }
}

/// Writes the items `next` yields, already in order, as one run file.
fn write_run(
    space: &Arc<SpillSpace>,
    mut next: impl FnMut() -> Result<Option<Item>>,
) -> Result<RowFile> {
    let mut writer = RowWriter::create(space)?;
    let mut record = Vec::new();
    while let Some((key, tag)) = next()? {
        encode_record(&key, tag, &mut record);
        writer.write_record(&record, 0)?;
    }
    writer.finish()
}

/// `tag u64 LE ‖ key`.
fn encode_record(key: &[u8], tag: u64, record: &mut Vec<u8>) {
    record.clear();
    record.extend_from_slice(&tag.to_le_bytes());
    record.extend_from_slice(key);
}

fn decode_record(record: &[u8]) -> Result<Item> {
    let Some((tag, key)) = record.split_first_chunk::<8>() else {
        return Err(Error::Corrupt(format!(
            "sort run record of {} bytes, shorter than its tag",
            record.len()
        )));
    };
    Ok((key.to_vec(), u64::from_le_bytes(*tag)))
}

/// The sorted items.
pub enum SortedBytes {
    /// Everything fit in memory.
    Memory(std::vec::IntoIter<Item>),
    /// Run files, merged as they are read.
    Merge(Merge),
}

impl SortedBytes {
    /// The next item, or `None` after the last.
    pub fn next_item(&mut self) -> Result<Option<Item>> {
        match self {
            SortedBytes::Memory(items) => Ok(items.next()),
            SortedBytes::Merge(merge) => merge.next(),
        }
    }
}

/// A k-way merge of sorted run files: a heap holds each run's smallest
/// unread item, tagged with its run.
pub struct Merge {
    readers: Vec<RowReader>,
    heads: BinaryHeap<Reverse<(Item, usize)>>,
}

impl Merge {
    fn open(runs: &[RowFile]) -> Result<Merge> {
        let mut merge = Merge {
            readers: Vec::with_capacity(runs.len()),
            heads: BinaryHeap::with_capacity(runs.len()),
        };
        for run in runs {
            merge.readers.push(run.reader()?);
            merge.advance(merge.readers.len() - 1)?;
        }
        Ok(merge)
    }

    /// Puts run `run`'s next item, if any, on the heap.
    fn advance(&mut self, run: usize) -> Result<()> {
        let reader = self
            .readers
            .get_mut(run)
            .ok_or_else(|| Error::Internal("merge of a run it does not read".into()))?;
        if let Some(record) = reader.next_record()? {
            self.heads.push(Reverse((decode_record(record)?, run)));
        }
        Ok(())
    }

    fn next(&mut self) -> Result<Option<Item>> {
        let Some(Reverse((item, run))) = self.heads.pop() else {
            return Ok(None);
        };
        self.advance(run)?;
        Ok(Some(item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::vfs::SplitMix64;

    fn items(count: usize, seed: u64) -> Vec<Item> {
        let mut random = SplitMix64(seed);
        (0..count)
            .map(|index| {
                let length = (random.next_u64() % 12) as usize;
                let key: Vec<u8> = (0..length).map(|_| random.next_u64() as u8).collect();
                (key, index as u64)
            })
            .collect()
    }

    fn sort_all(input: &[Item], budget: usize) -> (Vec<Item>, bool, usize) {
        let space = SpillSpace::temporary();
        let mut sorter = ByteSorter::new(Arc::clone(&space), budget);
        for (key, tag) in input {
            sorter.push(key, *tag).expect("push");
        }
        let spilled = sorter.spilled();
        let runs = sorter.runs.len();
        let mut sorted = sorter.finish().expect("finish");
        let mut output = Vec::new();
        while let Some(item) = sorted.next_item().expect("next") {
            output.push(item);
        }
        (output, spilled, runs)
    }

    #[test]
    fn in_memory_and_spilled_sorts_give_the_same_order() {
        let input = items(5_000, 7);
        let mut expected = input.clone();
        expected.sort();
        let (memory, spilled, _) = sort_all(&input, usize::MAX);
        assert!(!spilled);
        assert_eq!(memory, expected);
        // A budget of a few items: many runs, more than one merge holds,
        // so some are merged into longer runs first.
        let (merged, spilled, runs) = sort_all(&input, 60 * ITEM_OVERHEAD);
        assert!(spilled);
        assert!(runs > MAX_FAN_OUT, "{runs} runs");
        assert_eq!(merged, expected);
    }

    #[test]
    fn equal_keys_come_out_by_tag_and_none_is_lost() {
        let input: Vec<Item> = (0..1_000u64).map(|tag| (vec![1, 2], 999 - tag)).collect();
        let (output, spilled, _) = sort_all(&input, 10 * ITEM_OVERHEAD);
        assert!(spilled);
        let tags: Vec<u64> = output.iter().map(|(_, tag)| *tag).collect();
        assert_eq!(tags, (0..1_000).collect::<Vec<_>>());
    }

    #[test]
    fn a_short_record_is_corruption() {
        assert!(matches!(decode_record(&[1, 2, 3]), Err(Error::Corrupt(_))));
        assert_eq!(
            decode_record(&[5, 0, 0, 0, 0, 0, 0, 0, 9]).expect("decodes"),
            (vec![9], 5)
        );
    }
}
