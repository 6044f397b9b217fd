//! Garbage collection keeps the data file bounded: the same 1,000 rows are
//! updated a million times (the number, about 5 s;
//! `BASALT_GC_UPDATES` changes it) by two threads at SERIALIZABLE, with the
//! background collector running. Without collection every update would add
//! a version (about 120 bytes) for good; with it, a few versions per row
//! remain, and each completed sweep truncates the commit log below its
//! horizon, so its status byte per transaction does not pile up either:
//! the file stops growing. The test prints the sizes it saw (1.1–1.4 MiB
//! after every tenth, flat but for an occasional step when a stalled
//! horizon let versions pile up).

use std::sync::Arc;
use std::time::Instant;

use basalt::Config;
use basalt::storage::{BTreeEngine, Engine};
use basalt::txn::{IsolationLevel, Mvcc};

const ROWS: u64 = 1000;
const THREADS: u64 = 2;

fn data_file_size(directory: &std::path::Path) -> u64 {
    std::fs::metadata(directory.join("basalt.db"))
        .expect("data file")
        .len()
}

#[test]
fn updating_the_same_rows_keeps_the_data_file_bounded() {
    let updates: u64 = std::env::var("BASALT_GC_UPDATES")
        .ok()
        .map(|text| text.parse().expect("BASALT_GC_UPDATES is a number"))
        .unwrap_or(1_000_000);
    let directory = tempfile::tempdir().expect("temporary directory");
    let engine = Arc::new(BTreeEngine::open(&Config::new(directory.path())).expect("open"));
    let mvcc = Mvcc::open(Arc::clone(&engine) as Arc<dyn Engine>).expect("mvcc");
    let tree = {
        let mut txn = mvcc.begin(IsolationLevel::Serializable).expect("begin");
        txn.begin_statement();
        let tree = txn.create_tree().expect("tree");
        for row in 0..ROWS {
            txn.set(tree, &row.to_be_bytes(), &[0u8; 100])
                .expect("insert");
        }
        txn.commit().expect("commit");
        tree
    };
    mvcc.start_collector().expect("collector");
    let started = Instant::now();
    let mut sizes = Vec::new();
    let rounds = 10;
    for round in 0..rounds {
        let per_thread = updates / rounds / THREADS;
        std::thread::scope(|scope| {
            for thread in 0..THREADS {
                let mvcc = &mvcc;
                scope.spawn(move || {
                    for update in 0..per_thread {
                        // Each thread owns every other row: no conflicts.
                        let row = (update * THREADS + thread) % ROWS;
                        let mut txn = mvcc.begin(IsolationLevel::Serializable).expect("begin");
                        txn.set_synchronous_commit(false);
                        txn.begin_statement();
                        let value = [(round as u8).wrapping_add(update as u8); 100];
                        txn.set(tree, &row.to_be_bytes(), &value).expect("update");
                        txn.commit().expect("commit");
                    }
                });
            }
        });
        mvcc.flush().expect("checkpoint");
        sizes.push(data_file_size(directory.path()));
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{updates} updates of {ROWS} rows in {elapsed:.1} s ({:.0}/s); data file after each tenth: {:?} KiB",
        updates as f64 / elapsed,
        sizes.iter().map(|size| size / 1024).collect::<Vec<_>>()
    );
    // The collector truncated the commit log: its floor passed most transactions.
    let floor = mvcc.commit_log_floor();
    println!("commit log floor: transaction {floor}");
    assert!(
        floor > updates / 2,
        "commit log floor {floor} after {updates} updates"
    );
    // Versions: a few per row survive the run (each write prunes the key's
    // versions below the horizon, the collector sweeps the rest; how many
    // depends on timing), and with nothing running a VACUUM leaves exactly
    // one per row.
    let count_versions = || {
        basalt::storage::scan(
            engine.as_ref(),
            tree,
            basalt::storage::KeyRange::all(),
            basalt::storage::Direction::Forward,
        )
        .count() as u64
    };
    let versions = count_versions();
    println!("versions left: {versions} for {ROWS} rows");
    assert!(versions <= 20 * ROWS, "{versions} versions for {ROWS} rows");
    mvcc.vacuum_all().expect("vacuum");
    assert_eq!(count_versions(), ROWS, "one version per row after VACUUM");
    // The file: without collection every update would keep a version of
    // about 120 bytes, and without truncation the commit log a status byte.
    // Over the second half of a million updates the commit log alone would add
    // about 950 KiB. Allow 512 KiB whatever the number of updates: the
    // tree keeps the pages of its busiest moment, and when a thread is
    // descheduled in the middle of a transaction (a loaded CI machine) the
    // horizon stalls and versions pile up for a while (once 344 KiB).
    let half = sizes[rounds as usize / 2 - 1];
    let last = *sizes.last().expect("sizes");
    assert!(
        last <= half + 512 * 1024,
        "data file grew by {} bytes in the second half: {sizes:?}",
        last - half
    );
    // And every row still reads back its last value.
    let mut txn = mvcc.begin(IsolationLevel::Serializable).expect("begin");
    txn.begin_statement();
    for row in 0..ROWS {
        assert!(txn.get(tree, &row.to_be_bytes()).expect("read").is_some());
    }
    txn.commit().expect("commit");
}
