//! Concurrency stress of one B+tree: 8 threads of mixed inserts, deletes,
//! lookups and scans on the same tree with a small buffer pool.
//!
//! Each thread owns the keys congruent to its index modulo 8 and keeps a
//! model of them, so the final tree must equal the union of the models.
//! Meanwhile every scan, over keys of all threads, must return keys in
//! strictly increasing (or, backwards, decreasing) order: never a key twice,
//! never out of order, whatever the other threads are splitting or merging.
//!
//! Runs for `BASALT_STRESS_SECONDS` (default 10) seconds.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use basalt::Config;
use basalt::storage::{BTreeEngine, Direction, Engine, KeyRange, scan};

const THREADS: u64 = 8;
const TREE: u64 = 100;
const KEY_SPACE: u64 = 20_000;

/// A small deterministic generator (xorshift64*), one per thread.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn key(n: u64) -> Vec<u8> {
    // Variable-length keys: a fixed prefix for order plus padding.
    let mut key = n.to_be_bytes().to_vec();
    key.extend(std::iter::repeat_n(b'k', (n % 23) as usize));
    key
}

fn value(n: u64, version: u64) -> Vec<u8> {
    let length = 8 + ((n * 31 + version) % 300) as usize;
    let mut value = version.to_le_bytes().to_vec();
    value.resize(length, (n % 251) as u8);
    value
}

fn check_order(entries: &[(Vec<u8>, Vec<u8>)], direction: Direction) {
    for pair in entries.windows(2) {
        let ordered = match direction {
            Direction::Forward => pair[0].0 < pair[1].0,
            Direction::Backward => pair[0].0 > pair[1].0,
        };
        assert!(
            ordered,
            "scan returned keys out of order or twice: {:?} then {:?}",
            pair[0].0, pair[1].0
        );
    }
}

#[test]
fn eight_threads_of_mixed_operations_on_one_tree() {
    let seconds: u64 = std::env::var("BASALT_STRESS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let directory = tempfile::tempdir().expect("tempdir");
    let config = Config::new(directory.path()).with_buffer_pool_pages(256);
    let engine = Arc::new(BTreeEngine::open(&config).expect("open"));
    engine.create_tree(TREE).expect("create tree");
    let stop = Arc::new(AtomicBool::new(false));
    let operations = Arc::new(AtomicU64::new(0));
    let scans = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let engine = Arc::clone(&engine);
            let stop = Arc::clone(&stop);
            let operations = Arc::clone(&operations);
            let scans = Arc::clone(&scans);
            std::thread::spawn(move || {
                let mut random = Random(0x9E37_79B9_7F4A_7C15 ^ (thread + 1));
                let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
                let mut version = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let n = (random.next() % (KEY_SPACE / THREADS)) * THREADS + thread;
                    let k = key(n);
                    match random.next() % 10 {
                        0..=3 => {
                            version += 1;
                            let v = value(n, version);
                            engine.insert(TREE, &k, &v).expect("insert");
                            model.insert(k, v);
                        }
                        4..=5 => {
                            let existed = engine.delete(TREE, &k).expect("delete");
                            assert_eq!(
                                existed,
                                model.remove(&k).is_some(),
                                "delete of own key {n}"
                            );
                        }
                        6..=7 => {
                            let found = engine.get(TREE, &k).expect("get");
                            assert_eq!(found.as_ref(), model.get(&k), "lookup of own key {n}");
                        }
                        _ => {
                            let start = random.next() % KEY_SPACE;
                            let direction = if random.next().is_multiple_of(2) {
                                Direction::Forward
                            } else {
                                Direction::Backward
                            };
                            let range = KeyRange {
                                start: std::ops::Bound::Included(key(start)),
                                end: std::ops::Bound::Excluded(key(start + 2_000)),
                            };
                            let entries: Vec<_> = scan(engine.as_ref(), TREE, range, direction)
                                .take(500)
                                .map(|entry| entry.expect("scan"))
                                .collect();
                            check_order(&entries, direction);
                            // Our own keys in the scanned span must match the model exactly.
                            for (k, v) in &entries {
                                let n =
                                    u64::from_be_bytes(k[..8].try_into().expect("8-byte prefix"));
                                if n % THREADS == thread {
                                    assert_eq!(
                                        Some(v),
                                        model.get(k),
                                        "scan saw a stale own key {n}"
                                    );
                                }
                            }
                            scans.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    operations.fetch_add(1, Ordering::Relaxed);
                }
                model
            })
        })
        .collect();
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut expected = BTreeMap::new();
    for handle in handles {
        expected.extend(handle.join().expect("worker thread"));
    }
    let elapsed = started.elapsed();
    let actual: BTreeMap<Vec<u8>, Vec<u8>> =
        scan(engine.as_ref(), TREE, KeyRange::all(), Direction::Forward)
            .map(|entry| entry.expect("final scan"))
            .collect();
    assert_eq!(actual.len(), expected.len(), "final key count");
    assert!(actual == expected, "final contents differ from the model");
    engine.check_tree(TREE).expect("tree structure");
    let total = operations.load(Ordering::Relaxed);
    assert!(
        total > 0 && scans.load(Ordering::Relaxed) > 0,
        "the workload ran"
    );
    eprintln!(
        "{total} operations ({} scans) in {:.1} s: {:.0} ops/s, {} keys at the end",
        scans.load(Ordering::Relaxed),
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        actual.len()
    );
}
