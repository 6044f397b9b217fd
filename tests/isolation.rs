//! Isolation anomalies at the transaction API, one named test each, with
//! PostgreSQL 15's outcomes at each level (Adya's phenomena as catalogued by
//! Hermitage, https://github.com/ept/hermitage, for PostgreSQL).
//!
//! Covered here: the anomalies that snapshot isolation with waiting
//! first-updater-wins already prevents — dirty write (G0), aborted read
//! (G1a), intermediate read (G1b), circular information flow (G1c),
//! observed transaction vanishes (OTV), predicate-many-preceders (PMP), lost
//! update (P4) and read skew (G-single) — and the anomalies only SSI
//! prevents: write skew (G2-item), anti-dependency cycles through phantoms
//! (G2) and the read-only anomaly (Fekete, O'Neil, O'Neil 2004), which
//! REPEATABLE READ allows and SERIALIZABLE prevents, as in PostgreSQL.
//!
//! Two transactions run on one thread; where PostgreSQL would block, a short
//! `lock_timeout` makes the wait observable as 55P03.

use std::sync::Arc;
use std::time::Duration;

use basalt::storage::{Direction, Engine, KeyRange, MemoryEngine};
use basalt::txn::{IsolationLevel, Mvcc, Transaction};

const TREE: u64 = 7;
const LEVELS: [IsolationLevel; 3] = [
    IsolationLevel::ReadCommitted,
    IsolationLevel::RepeatableRead,
    IsolationLevel::Serializable,
];

/// A database with `x = 10`, `y = 20` committed.
fn setup() -> Arc<Mvcc> {
    let engine = Arc::new(MemoryEngine::new());
    engine.create_tree(TREE).expect("tree");
    let mvcc = Mvcc::open(engine).expect("mvcc");
    let mut txn = mvcc.begin(IsolationLevel::ReadCommitted).expect("begin");
    txn.set(TREE, b"x", b"10").expect("x");
    txn.set(TREE, b"y", b"20").expect("y");
    txn.commit().expect("commit");
    mvcc
}

fn begin(mvcc: &Arc<Mvcc>, level: IsolationLevel) -> Transaction {
    let mut txn = mvcc.begin(level).expect("begin");
    txn.set_lock_timeout(Some(Duration::from_millis(20)));
    txn
}

/// A read as one statement (READ COMMITTED takes its snapshot here).
fn read(txn: &mut Transaction, key: &[u8]) -> Option<String> {
    txn.begin_statement();
    txn.get(TREE, key)
        .expect("read")
        .map(|value| String::from_utf8(value).expect("utf-8"))
}

fn write(txn: &mut Transaction, key: &[u8], value: &str) -> basalt::Result<()> {
    txn.begin_statement();
    txn.set(TREE, key, value.as_bytes())
}

fn code(result: basalt::Result<()>) -> &'static str {
    result.expect_err("must fail").sqlstate().code()
}

fn committed(mvcc: &Arc<Mvcc>, key: &[u8]) -> Option<String> {
    let mut txn = begin(mvcc, IsolationLevel::ReadCommitted);
    let value = read(&mut txn, key);
    txn.commit().expect("commit");
    value
}

#[test]
fn g0_dirty_write_is_prevented_at_every_level() {
    for level in LEVELS {
        let mvcc = setup();
        let mut t1 = begin(&mvcc, level);
        let mut t2 = begin(&mvcc, level);
        write(&mut t1, b"x", "11").expect("t1 x");
        // T2 must not overwrite T1's uncommitted version: it waits.
        assert_eq!(code(write(&mut t2, b"x", "12")), "55P03", "{level:?}");
        write(&mut t1, b"y", "21").expect("t1 y");
        t1.commit().expect("t1 commit");
        t2.rollback().expect("t2 rollback");
        assert_eq!(committed(&mvcc, b"x").as_deref(), Some("11"));
        assert_eq!(committed(&mvcc, b"y").as_deref(), Some("21"));
    }
}

#[test]
fn g1a_aborted_read_is_prevented_at_every_level() {
    for level in LEVELS {
        let mvcc = setup();
        let mut t1 = begin(&mvcc, level);
        let mut t2 = begin(&mvcc, level);
        write(&mut t1, b"x", "101").expect("t1");
        assert_eq!(read(&mut t2, b"x").as_deref(), Some("10"), "{level:?}");
        t1.rollback().expect("abort");
        assert_eq!(read(&mut t2, b"x").as_deref(), Some("10"), "{level:?}");
        t2.commit().expect("t2");
    }
}

#[test]
fn g1b_intermediate_read_is_prevented_at_every_level() {
    for level in LEVELS {
        let mvcc = setup();
        let mut t1 = begin(&mvcc, level);
        let mut t2 = begin(&mvcc, level);
        write(&mut t1, b"x", "101").expect("t1 first");
        assert_eq!(read(&mut t2, b"x").as_deref(), Some("10"), "{level:?}");
        write(&mut t1, b"x", "11").expect("t1 final");
        t1.commit().expect("t1");
        // Never the intermediate 101: the final value at READ COMMITTED,
        // the snapshot's at the others.
        let expected = match level {
            IsolationLevel::ReadCommitted => "11",
            _ => "10",
        };
        assert_eq!(read(&mut t2, b"x").as_deref(), Some(expected), "{level:?}");
        t2.commit().expect("t2");
    }
}

#[test]
fn g1c_circular_information_flow_is_prevented_at_every_level() {
    for level in LEVELS {
        let mvcc = setup();
        let mut t1 = begin(&mvcc, level);
        let mut t2 = begin(&mvcc, level);
        write(&mut t1, b"x", "11").expect("t1 x");
        write(&mut t2, b"y", "22").expect("t2 y");
        // Each reads the other's key: neither sees the other's write, so no
        // cycle of write-read dependencies can form.
        assert_eq!(read(&mut t1, b"y").as_deref(), Some("20"), "{level:?}");
        assert_eq!(read(&mut t2, b"x").as_deref(), Some("10"), "{level:?}");
        t1.commit().expect("t1");
        // Each also read what the other overwrote: a write skew cycle, so
        // SERIALIZABLE fails T2 at commit, as PostgreSQL does.
        match level {
            IsolationLevel::Serializable => assert_eq!(code(t2.commit()), "40001"),
            _ => t2.commit().expect("t2"),
        }
    }
}

#[test]
fn otv_observed_transaction_vanishes_is_prevented_at_every_level() {
    for level in LEVELS {
        let mvcc = setup();
        let mut t1 = begin(&mvcc, level);
        let mut t2 = begin(&mvcc, level);
        let mut t3 = begin(&mvcc, level);
        write(&mut t1, b"x", "11").expect("t1 x");
        write(&mut t1, b"y", "19").expect("t1 y");
        // T2 waits for T1's rows (55P03 here); it retries after T1 commits.
        assert_eq!(code(write(&mut t2, b"x", "12")), "55P03", "{level:?}");
        t1.commit().expect("t1");
        // T3 takes its snapshot at its first read, after T1's commit, at
        // every level (as PostgreSQL): it sees T1 whole, and keeps seeing
        // it after T2, which observed T1's rows, gives up.
        let x = read(&mut t3, b"x");
        t2.rollback().expect("t2");
        let y = read(&mut t3, b"y");
        assert_eq!(
            (x.as_deref(), y.as_deref()),
            (Some("11"), Some("19")),
            "{level:?}"
        );
        t3.commit().expect("t3");
    }
}

#[test]
fn pmp_predicate_many_preceders_is_prevented_under_snapshots() {
    for level in LEVELS {
        let mvcc = setup();
        let mut t1 = begin(&mvcc, level);
        let mut t2 = begin(&mvcc, level);
        t1.begin_statement();
        let before = t1.scan(TREE, KeyRange::all(), Direction::Forward).count();
        write(&mut t2, b"z", "30").expect("t2 insert");
        t2.commit().expect("t2");
        t1.begin_statement();
        let after = t1.scan(TREE, KeyRange::all(), Direction::Forward).count();
        // READ COMMITTED sees the new row on the next statement, as in
        // PostgreSQL; the snapshot levels keep seeing the same predicate.
        let expected = match level {
            IsolationLevel::ReadCommitted => before + 1,
            _ => before,
        };
        assert_eq!(after, expected, "{level:?}");
        t1.commit().expect("t1");
    }
}

#[test]
fn p4_lost_update_is_prevented_at_repeatable_read_and_serializable() {
    for level in [IsolationLevel::RepeatableRead, IsolationLevel::Serializable] {
        let mvcc = setup();
        let mut t1 = begin(&mvcc, level);
        let mut t2 = begin(&mvcc, level);
        assert_eq!(read(&mut t1, b"x").as_deref(), Some("10"));
        assert_eq!(read(&mut t2, b"x").as_deref(), Some("10"));
        write(&mut t1, b"x", "11").expect("t1 increments");
        t1.commit().expect("t1");
        // T2's increment would overwrite T1's: 40001, as in PostgreSQL.
        assert_eq!(code(write(&mut t2, b"x", "11")), "40001", "{level:?}");
        t2.rollback().expect("t2");
        assert_eq!(committed(&mvcc, b"x").as_deref(), Some("11"));
    }
}

#[test]
fn g_single_read_skew_is_prevented_at_repeatable_read_and_serializable() {
    for level in [IsolationLevel::RepeatableRead, IsolationLevel::Serializable] {
        let mvcc = setup();
        let mut t1 = begin(&mvcc, level);
        let mut t2 = begin(&mvcc, level);
        assert_eq!(read(&mut t1, b"x").as_deref(), Some("10"));
        write(&mut t2, b"x", "12").expect("t2 x");
        write(&mut t2, b"y", "18").expect("t2 y");
        t2.commit().expect("t2");
        // x + y stays 30 in T1's view.
        assert_eq!(read(&mut t1, b"y").as_deref(), Some("20"), "{level:?}");
        t1.commit().expect("t1");
    }
}

#[test]
fn g_single_read_skew_happens_at_read_committed_as_in_postgres() {
    let mvcc = setup();
    let mut t1 = begin(&mvcc, IsolationLevel::ReadCommitted);
    let mut t2 = begin(&mvcc, IsolationLevel::ReadCommitted);
    assert_eq!(read(&mut t1, b"x").as_deref(), Some("10"));
    write(&mut t2, b"x", "12").expect("t2 x");
    write(&mut t2, b"y", "18").expect("t2 y");
    t2.commit().expect("t2");
    assert_eq!(read(&mut t1, b"y").as_deref(), Some("18"));
    t1.commit().expect("t1");
}

#[test]
fn g2_item_write_skew_commits_at_repeatable_read_as_in_postgres() {
    // Both read x and y, each writes the other key: no row is written twice,
    // so snapshot isolation commits both (PostgreSQL's REPEATABLE READ too).
    let mvcc = setup();
    let mut t1 = begin(&mvcc, IsolationLevel::RepeatableRead);
    let mut t2 = begin(&mvcc, IsolationLevel::RepeatableRead);
    for txn in [&mut t1, &mut t2] {
        assert_eq!(read(txn, b"x").as_deref(), Some("10"));
        assert_eq!(read(txn, b"y").as_deref(), Some("20"));
    }
    write(&mut t1, b"x", "0").expect("t1");
    write(&mut t2, b"y", "0").expect("t2");
    t1.commit().expect("t1 commits");
    t2.commit().expect("t2 commits");
    assert_eq!(committed(&mvcc, b"x").as_deref(), Some("0"));
    assert_eq!(committed(&mvcc, b"y").as_deref(), Some("0"));
}

#[test]
fn g2_item_write_skew_is_prevented_at_serializable() {
    // PostgreSQL: T1 commits, T2's commit fails with 40001.
    let mvcc = setup();
    let mut t1 = begin(&mvcc, IsolationLevel::Serializable);
    let mut t2 = begin(&mvcc, IsolationLevel::Serializable);
    for txn in [&mut t1, &mut t2] {
        assert_eq!(read(txn, b"x").as_deref(), Some("10"));
        assert_eq!(read(txn, b"y").as_deref(), Some("20"));
    }
    write(&mut t1, b"x", "0").expect("t1");
    write(&mut t2, b"y", "0").expect("t2");
    t1.commit().expect("t1 commits");
    let error = t2.commit().expect_err("t2 is the pivot");
    assert_eq!(error.sqlstate().code(), "40001");
    assert!(
        error.to_string().contains("read/write dependencies"),
        "{error}"
    );
    assert_eq!(committed(&mvcc, b"x").as_deref(), Some("0"));
    assert_eq!(committed(&mvcc, b"y").as_deref(), Some("20"));
}

/// Counts the keys of `prefix` visible to `txn` (a predicate read).
fn count(txn: &mut Transaction, prefix: &[u8]) -> usize {
    txn.begin_statement();
    let mut count = 0;
    for entry in txn.scan(TREE, KeyRange::prefix(prefix), Direction::Forward) {
        entry.expect("scan");
        count += 1;
    }
    count
}

#[test]
fn g2_anti_dependency_cycle_through_phantoms() {
    // Each reads the (empty) set of tasks, then inserts one: neither row
    // existed for the other to read, so only the predicate conflicts.
    // PostgreSQL: both commit at REPEATABLE READ; at SERIALIZABLE T2's
    // commit fails.
    for level in [IsolationLevel::RepeatableRead, IsolationLevel::Serializable] {
        let mvcc = setup();
        let mut t1 = begin(&mvcc, level);
        let mut t2 = begin(&mvcc, level);
        assert_eq!(count(&mut t1, b"task/"), 0);
        assert_eq!(count(&mut t2, b"task/"), 0);
        write(&mut t1, b"task/1", "t1").expect("t1 inserts");
        write(&mut t2, b"task/2", "t2").expect("t2 inserts");
        t1.commit().expect("t1 commits");
        let outcome = t2.commit();
        match level {
            IsolationLevel::Serializable => {
                assert_eq!(code(outcome), "40001");
                assert_eq!(committed(&mvcc, b"task/2"), None);
            }
            _ => outcome.expect("snapshot isolation commits both"),
        }
    }
}

#[test]
fn read_only_anomaly_is_prevented_at_serializable() {
    // Fekete, O'Neil, O'Neil 2004, as PostgreSQL's "deposit report": x is
    // the current batch number, y/… the receipts of batch 10.
    //   T1 (receipt): reads x = 10, inserts receipt y/1 into batch 10
    //   T2 (close batch): x = 11, commits
    //   T3 (report, read-only, after T2): reads x = 11, so batch 10 is
    //       closed, and lists its receipts without T1's
    // T3 →rw T1 →rw T2 with T2 committed before T3's snapshot: T1, the
    // pivot, is doomed and fails at commit; T3's report stands. At
    // REPEATABLE READ all three commit and the report missed a receipt.
    for level in [IsolationLevel::RepeatableRead, IsolationLevel::Serializable] {
        let mvcc = setup();
        let mut t1 = begin(&mvcc, level);
        assert_eq!(read(&mut t1, b"x").as_deref(), Some("10"));
        write(&mut t1, b"y/1", "receipt").expect("t1 inserts a receipt");
        let mut t2 = begin(&mvcc, level);
        write(&mut t2, b"x", "11").expect("t2 closes the batch");
        t2.commit().expect("t2");
        let mut t3 = begin(&mvcc, level);
        t3.set_read_only(true).expect("read only");
        assert_eq!(read(&mut t3, b"x").as_deref(), Some("11"));
        assert_eq!(count(&mut t3, b"y/"), 0, "the report misses T1's receipt");
        t3.commit().expect("the read-only report commits");
        match level {
            IsolationLevel::Serializable => assert_eq!(code(t1.commit()), "40001"),
            _ => t1.commit().expect("snapshot isolation commits"),
        }
    }
}

#[test]
fn read_only_deferrable_waits_for_a_safe_snapshot_and_then_cannot_fail() {
    // The read-only anomaly's report again, as SERIALIZABLE READ ONLY
    // DEFERRABLE: at its first read it waits while T1, a concurrent
    // read-write transaction, runs; T1's commit makes the snapshot it had
    // unsafe (T1 →rw T2, T2 committed before it), so it takes a fresh one,
    // which is safe. Nobody aborts and the report includes T1's receipt.
    let mvcc = setup();
    let mut t1 = begin(&mvcc, IsolationLevel::Serializable);
    assert_eq!(read(&mut t1, b"x").as_deref(), Some("10"));
    write(&mut t1, b"y/1", "receipt").expect("t1 inserts a receipt");
    let mut t2 = begin(&mvcc, IsolationLevel::Serializable);
    write(&mut t2, b"x", "11").expect("t2 closes the batch");
    t2.commit().expect("t2");
    let mut t3 = begin(&mvcc, IsolationLevel::Serializable);
    t3.set_read_only(true).expect("read only");
    t3.set_deferrable(true).expect("deferrable");
    let (started, waiting) = std::sync::mpsc::channel();
    let report = std::thread::spawn(move || {
        let batch = read(&mut t3, b"x");
        started.send(()).expect("send");
        let receipts = count(&mut t3, b"y/");
        t3.commit().map(|()| (batch, receipts))
    });
    assert!(
        waiting.recv_timeout(Duration::from_millis(200)).is_err(),
        "a deferrable transaction must not start while a read-write one runs"
    );
    t1.commit()
        .expect("t1 commits: the report never made it a pivot");
    let (batch, receipts) = report
        .join()
        .expect("report thread")
        .expect("a deferrable report cannot fail");
    assert_eq!(batch.as_deref(), Some("11"));
    assert_eq!(receipts, 1, "the report includes T1's receipt");
    // Once past the wait, a second statement cannot change its mind.
    let mut late = begin(&mvcc, IsolationLevel::Serializable);
    read(&mut late, b"x");
    assert_eq!(code(late.set_deferrable(true)), "25001");
}

#[test]
fn read_only_transaction_whose_writer_committed_after_its_snapshot_is_not_an_anomaly() {
    // The same shape, but T2 commits after the report's snapshot: the
    // report is serializable before T2, so nothing aborts (the read-only
    // optimisation of Ports & Grittner).
    let mvcc = setup();
    let mut t1 = begin(&mvcc, IsolationLevel::Serializable);
    assert_eq!(read(&mut t1, b"x").as_deref(), Some("10"));
    write(&mut t1, b"y/1", "receipt").expect("t1");
    let mut t2 = begin(&mvcc, IsolationLevel::Serializable);
    write(&mut t2, b"x", "11").expect("t2");
    let mut t3 = begin(&mvcc, IsolationLevel::Serializable);
    t3.set_read_only(true).expect("read only");
    assert_eq!(read(&mut t3, b"x").as_deref(), Some("10"));
    t2.commit().expect("t2");
    assert_eq!(count(&mut t3, b"y/"), 0);
    t3.commit().expect("t3");
    t1.commit().expect("t1: T2 committed after T3's snapshot");
}
