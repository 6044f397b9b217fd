//! Simulated crashes: a workload of atomic multi-key transactions runs over
//! the crash-simulating file system; the power goes off at every sync point,
//! at random writes between them (unsynced writes are then kept, dropped or
//! torn at 512-byte sectors), and during recovery itself. After recovery,
//! every transaction acknowledged as committed must be fully present, and the
//! one that was in flight either fully present or fully absent.
//!
//! Every fifth transaction is preceded by one that writes and rolls back,
//! and every eighth is followed by a `VACUUM` of every tree (which also
//! truncates the commit log below its horizon) and a checkpoint, so crash
//! points fall inside garbage collection and commit-log truncation too;
//! after recovery a second `VACUUM` must not change what reads see (the
//! versions of the transaction cut short by the crash are collected, and
//! its id then reads as committed).
//!
//! The engine is configured to stress the machinery: a small buffer pool
//! (evictions write pages back under the write-ahead rule), small WAL
//! segments and a small checkpoint distance (fuzzy checkpoints run in the
//! background, and old segments are removed), values large enough to need
//! overflow chains.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

mod common;

use basalt::Config;
use basalt::storage::vfs::SimulatedFileSystem;
use basalt::storage::{BTreeEngine, Engine, TreeId};
use basalt::txn::{IsolationLevel, Mvcc};
use common::SplitMix;

/// The model: key → value of the committed state.
type Model = BTreeMap<u32, Vec<u8>>;

/// One transaction of the workload: keys to set (`Some`) or delete (`None`).
type Ops = Vec<(u32, Option<Vec<u8>>)>;

const KEYS: u32 = 48;
const DATA_DIR: &str = "/sim/data";

fn config() -> Config {
    let mut config = Config::new(DATA_DIR)
        .with_buffer_pool_pages(24)
        .with_wal_segment_size(256 * 1024)
        .with_max_wal_size(96 * 1024)
        .with_checkpoint_interval(Duration::from_millis(20));
    config.wal_writer_delay = Duration::from_millis(2);
    config
}

fn key_bytes(key: u32) -> Vec<u8> {
    format!("key-{key:04}").into_bytes()
}

/// The transactions of a workload, made up front from `seed`.
fn workload(seed: u64, transactions: usize) -> Vec<Ops> {
    let mut random = SplitMix(seed);
    (1..=transactions)
        .map(|number| {
            let count = 2 + random.below(4);
            let mut ops = Ops::new();
            for _ in 0..count {
                let key = random.below(u64::from(KEYS)) as u32;
                if ops.iter().any(|(k, _)| *k == key) {
                    continue;
                }
                if random.below(6) == 0 {
                    ops.push((key, None));
                    continue;
                }
                // Mostly small, some forcing splits, a few overflow chains.
                let length = match random.below(10) {
                    0 => 2500 + random.below(6000) as usize,
                    1..=3 => 400,
                    _ => 20,
                };
                let mut value = format!("txn {number} key {key} ").into_bytes();
                value.resize(length.max(value.len()), b'a' + (number % 26) as u8);
                ops.push((key, Some(value)));
            }
            ops
        })
        .collect()
}

fn apply(model: &mut Model, ops: &Ops) {
    for (key, value) in ops {
        match value {
            Some(value) => model.insert(*key, value.clone()),
            None => model.remove(key),
        };
    }
}

struct Database {
    engine: Arc<BTreeEngine>,
    mvcc: Arc<Mvcc>,
}

fn open(fs: &SimulatedFileSystem) -> basalt::Result<Database> {
    let engine = Arc::new(BTreeEngine::open_with(&config(), Arc::new(fs.clone()))?);
    let mvcc = Mvcc::open(Arc::clone(&engine) as Arc<dyn Engine>)?;
    Ok(Database { engine, mvcc })
}

/// What a run did before the power went off.
struct Outcome {
    tree: TreeId,
    acknowledged: usize,
    /// The transaction whose commit was under way (it may or may not count).
    in_flight: Option<usize>,
}

/// Runs the workload until it ends or the power goes off, then makes sure
/// the power is off (a crash at the very end, if no trigger fired).
fn run(fs: &SimulatedFileSystem, transactions: &[Ops]) -> Option<Outcome> {
    let database = open(fs).ok()?;
    let tree = (|| -> basalt::Result<TreeId> {
        let mut txn = database.mvcc.begin(IsolationLevel::RepeatableRead)?;
        let tree = txn.create_tree()?;
        txn.commit()?;
        Ok(tree)
    })()
    .ok()?;
    let mut outcome = Outcome {
        tree,
        acknowledged: 0,
        in_flight: None,
    };
    for (index, ops) in transactions.iter().enumerate() {
        let result = (|| -> basalt::Result<()> {
            if index % 5 == 2 {
                let mut aborted = database.mvcc.begin(IsolationLevel::RepeatableRead)?;
                for (key, _) in ops {
                    aborted.set(tree, &key_bytes(*key), b"rolled back")?;
                }
                aborted.rollback()?;
            }
            let mut txn = database.mvcc.begin(IsolationLevel::RepeatableRead)?;
            for (key, value) in ops {
                match value {
                    Some(value) => txn.set(tree, &key_bytes(*key), value)?,
                    None => txn.delete(tree, &key_bytes(*key))?,
                }
            }
            outcome.in_flight = Some(index);
            txn.commit()
        })();
        match result {
            Ok(()) => {
                outcome.acknowledged = index + 1;
                outcome.in_flight = None;
            }
            Err(_) => break,
        }
        // Checkpoints at fixed points too, so that crash points fall inside
        // them deterministically (the background ones depend on timing).
        if index % 8 == 7
            && (database.mvcc.vacuum_all().is_err() || database.engine.checkpoint().is_err())
        {
            break;
        }
    }
    if !fs.is_powered_off() {
        fs.power_off();
    }
    drop(database);
    Some(outcome)
}

/// Recovers and checks the state against the model.
fn verify(fs: &SimulatedFileSystem, transactions: &[Ops], outcome: &Outcome, label: &str) {
    let database = open(fs).unwrap_or_else(|error| panic!("{label}: recovery failed: {error}"));
    database
        .engine
        .check_tree(outcome.tree)
        .unwrap_or_else(|error| panic!("{label}: tree damaged: {error}"));
    let read_all = || {
        let mut txn = database.mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        let mut found = Model::new();
        for key in 0..KEYS {
            if let Some(value) = txn.get(outcome.tree, &key_bytes(key)).unwrap() {
                found.insert(key, value);
            }
        }
        txn.commit().unwrap();
        found
    };
    let found = read_all();
    database
        .mvcc
        .vacuum_all()
        .unwrap_or_else(|error| panic!("{label}: vacuum after recovery failed: {error}"));
    assert_eq!(
        read_all(),
        found,
        "{label}: a vacuum after recovery changed what reads see"
    );
    let mut expected = Model::new();
    for ops in &transactions[..outcome.acknowledged] {
        apply(&mut expected, ops);
    }
    if found == expected {
        return;
    }
    if let Some(index) = outcome.in_flight {
        apply(&mut expected, &transactions[index]);
        if found == expected {
            return;
        }
    }
    let differing: Vec<u32> = (0..KEYS)
        .filter(|key| found.get(key) != expected.get(key))
        .collect();
    let details: Vec<String> = differing
        .iter()
        .map(|key| {
            let show = |value: Option<&Vec<u8>>| {
                value.map(|bytes| {
                    String::from_utf8_lossy(&bytes[..bytes.len().min(24)]).into_owned()
                })
            };
            format!(
                "{key}: found {:?}, expected {:?}",
                show(found.get(key)),
                show(expected.get(key))
            )
        })
        .collect();
    panic!(
        "{label}: after {} acknowledged transactions (in flight: {:?}) keys {differing:?} differ: {details:?}",
        outcome.acknowledged, outcome.in_flight
    );
}

/// Counts the syncs and writes of an uninterrupted run.
fn dry_run(seed: u64, transactions: &[Ops]) -> (u64, u64) {
    let fs = SimulatedFileSystem::new(seed);
    let outcome = run(&fs, transactions).expect("a run without crashes opens");
    assert_eq!(outcome.acknowledged, transactions.len());
    (fs.sync_count(), fs.write_count())
}

#[test]
fn power_loss_at_every_sync_keeps_acknowledged_transactions_whole() {
    let transactions = workload(11, 40);
    let (syncs, _) = dry_run(11, &transactions);
    assert!(syncs > 40, "each commit syncs: {syncs}");
    let mut crashes = 0;
    for ordinal in 1..=syncs + 2 {
        let fs = SimulatedFileSystem::new(1000 + ordinal);
        fs.power_off_at_sync(ordinal);
        let Some(outcome) = run(&fs, &transactions) else {
            // The power went off while the database was being created.
            fs.power_on();
            continue;
        };
        fs.power_on();
        crashes += 1;
        verify(&fs, &transactions, &outcome, &format!("sync {ordinal}"));
    }
    assert!(crashes >= 40, "{crashes} crash points");
}

#[test]
fn power_loss_at_random_writes_with_torn_pages() {
    let transactions = workload(23, 40);
    let (_, writes) = dry_run(23, &transactions);
    let mut random = SplitMix(99);
    let mut torn = 0;
    for round in 0..120u64 {
        let fs = SimulatedFileSystem::new(5000 + round);
        fs.power_off_at_write(1 + random.below(writes));
        let Some(outcome) = run(&fs, &transactions) else {
            fs.power_on();
            continue;
        };
        torn += fs.torn_write_count();
        fs.power_on();
        verify(&fs, &transactions, &outcome, &format!("round {round}"));
    }
    assert!(torn > 0, "some crash must have torn a write");
}

#[test]
fn power_loss_during_recovery_is_harmless() {
    let transactions = workload(37, 30);
    let mut random = SplitMix(7);
    for round in 0..40u64 {
        let fs = SimulatedFileSystem::new(9000 + round);
        // Crash somewhere in the workload, then again inside recovery.
        fs.power_off_at_sync(5 + random.below(40));
        let Some(outcome) = run(&fs, &transactions) else {
            continue;
        };
        fs.power_on();
        let before = fs.sync_count();
        fs.power_off_at_write(fs.write_count() + 1 + random.below(6));
        if let Ok(database) = open(&fs) {
            // Recovery finished before the trigger: crash now instead.
            drop(database);
        }
        if !fs.is_powered_off() {
            fs.power_off();
        }
        fs.power_on();
        assert!(fs.sync_count() >= before);
        verify(&fs, &transactions, &outcome, &format!("round {round}"));
    }
}

#[test]
fn concurrent_committers_survive_power_loss() {
    const THREADS: u32 = 4;
    const PER_THREAD: u32 = 25;
    for round in 0..30u64 {
        let fs = SimulatedFileSystem::new(700 + round);
        fs.set_sync_delay(Duration::from_micros(300));
        let database = open(&fs).unwrap();
        let tree = {
            let mut txn = database.mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
            let tree = txn.create_tree().unwrap();
            txn.commit().unwrap();
            tree
        };
        let start_syncs = fs.sync_count();
        fs.power_off_at_sync(start_syncs + 5 + round * 2);
        // Thread t owns keys t*1000.., and transaction n of thread t writes
        // three keys with value n: all or none must survive.
        let done = std::sync::atomic::AtomicBool::new(false);
        let acknowledged: Vec<(u32, Option<u32>)> = std::thread::scope(|scope| {
            // A checkpoint loop racing the committers: checkpoints are fuzzy.
            let engine = Arc::clone(&database.engine);
            let done = &done;
            scope.spawn(move || {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    if engine.checkpoint().is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
            let handles: Vec<_> = (0..THREADS)
                .map(|thread| {
                    let mvcc = Arc::clone(&database.mvcc);
                    scope.spawn(move || {
                        let mut acked = 0;
                        for number in 1..=PER_THREAD {
                            let result = (|| -> basalt::Result<()> {
                                let mut txn = mvcc.begin(IsolationLevel::RepeatableRead)?;
                                for slot in 0..3 {
                                    let key = key_bytes(thread * 1000 + slot);
                                    txn.set(tree, &key, &number.to_be_bytes())?;
                                }
                                txn.commit()
                            })();
                            if result.is_err() {
                                return (acked, Some(number));
                            }
                            acked = number;
                        }
                        (acked, None)
                    })
                })
                .collect();
            let results = handles
                .into_iter()
                .map(|handle| handle.join().unwrap())
                .collect();
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            results
        });
        if !fs.is_powered_off() {
            fs.power_off();
        }
        drop(database);
        fs.power_on();
        let database = open(&fs).unwrap_or_else(|error| panic!("round {round}: {error}"));
        let mut txn = database.mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
        for (thread, (acked, in_flight)) in acknowledged.iter().enumerate() {
            let values: Vec<Option<u32>> = (0..3)
                .map(|slot| {
                    txn.get(tree, &key_bytes(thread as u32 * 1000 + slot))
                        .unwrap()
                        .map(|bytes| u32::from_be_bytes(bytes.try_into().unwrap()))
                })
                .collect();
            assert!(
                values.iter().all(|value| *value == values[0]),
                "round {round} thread {thread}: a transaction is partly present: {values:?}"
            );
            let value = values[0].unwrap_or(0);
            let allowed = [Some(*acked), in_flight.map(|n| n.max(*acked))];
            assert!(
                allowed.contains(&Some(value)),
                "round {round} thread {thread}: found {value}, acknowledged {acked}, in flight {in_flight:?}"
            );
        }
    }
}

#[test]
fn missing_wal_or_a_control_file_past_the_log_refuses_to_start() {
    let fs = SimulatedFileSystem::new(4);
    let transactions = workload(4, 10);
    let outcome = run(&fs, &transactions).unwrap();
    fs.power_on();
    verify(&fs, &transactions, &outcome, "intact");
    // Remove every WAL segment: the checkpoint's redo LSN is past the log.
    for segment in
        basalt::storage::vfs::FileSystem::list(&fs, &Path::new(DATA_DIR).join("wal")).unwrap()
    {
        basalt::storage::vfs::FileSystem::remove(&fs, &segment).unwrap();
    }
    let error = open(&fs).err().expect("the WAL is missing");
    assert!(matches!(error, basalt::Error::Corrupt(_)), "{error}");
    assert!(error.to_string().contains("redo LSN"), "{error}");
}

/// A crashed database whose WAL still has records after the last checkpoint,
/// and the LSNs of those records.
fn crashed_with_wal_tail(seed: u64) -> (SimulatedFileSystem, Vec<(u64, u64)>) {
    let fs = SimulatedFileSystem::new(seed);
    // Nine transactions: the last checkpoint in `run` follows the eighth.
    let transactions = workload(seed, 9);
    run(&fs, &transactions).unwrap();
    fs.power_on();
    let (wal, _) = basalt::storage::wal::Wal::open(
        Arc::new(fs.clone()),
        Path::new(DATA_DIR),
        basalt::storage::wal::WalOptions {
            segment_size: config().wal_segment_size,
            ..Default::default()
        },
    )
    .unwrap();
    let records: Vec<(u64, u64)> = wal
        .read_from(wal.oldest_lsn())
        .unwrap()
        .map(|record| {
            let record = record.unwrap();
            (record.lsn, record.end_lsn())
        })
        .collect();
    (fs, records)
}

fn segment_of(lsn: u64) -> std::path::PathBuf {
    let size = config().wal_segment_size;
    Path::new(DATA_DIR)
        .join("wal")
        .join(format!("{:016x}.wal", lsn - lsn % size))
}

#[test]
fn a_bad_record_in_the_middle_of_the_wal_refuses_to_start_naming_its_lsn() {
    let (fs, records) = crashed_with_wal_tail(61);
    assert!(records.len() >= 3, "{records:?}");
    // Damage the payload of a record in the middle: later flushes' marks
    // prove it was durable (in the last flush it would be a torn write).
    let (start, end) = records[records.len() / 2];
    let file = basalt::storage::vfs::FileSystem::open(&fs, &segment_of(start)).unwrap();
    let size = config().wal_segment_size;
    let offset = (start + end) / 2 % size;
    let mut byte = [0u8; 1];
    file.read_at(&mut byte, offset).unwrap();
    file.write_at(&[byte[0] ^ 0x20], offset).unwrap();
    file.sync().unwrap();
    let error = open(&fs)
        .err()
        .expect("mid-log damage must refuse to start");
    assert!(matches!(error, basalt::Error::Corrupt(_)), "{error}");
    assert!(
        error.to_string().contains(&format!("LSN {start}")),
        "{error}"
    );
}

#[test]
fn a_truncated_wal_tail_ends_replay_at_the_last_whole_record() {
    let (fs, records) = crashed_with_wal_tail(62);
    let (start, end) = *records.last().unwrap();
    // Cut the last record in half: recovery replays everything before it.
    let file = basalt::storage::vfs::FileSystem::open(&fs, &segment_of(start)).unwrap();
    let size = config().wal_segment_size;
    file.set_size((start + (end - start) / 2) % size).unwrap();
    file.sync().unwrap();
    let database = open(&fs).expect("a torn tail is not damage");
    let stats = database.engine.recovery_stats().clone();
    assert_eq!(stats.to_lsn, records[records.len() - 2].1, "{stats:?}");
    assert!(stats.records > 0);
    database
        .engine
        .check_tree(basalt::txn::mvcc::FIRST_ALLOCATED_TREE)
        .unwrap();
}
