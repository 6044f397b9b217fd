//! Statistics over time: the automatic analyze runs once enough of a
//! table changed (and not before, and not for rolled-back changes), and
//! `ANALYZE` never makes a serializable transaction fail.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod sessions;

use basalt::Database;
use basalt::config::AutoAnalyze;
use basalt::storage::MemoryEngine;
use sessions::{ok, run};

fn database(naptime: Duration) -> Database {
    let settings = AutoAnalyze {
        enabled: true,
        threshold: 50,
        scale_factor: 0.1,
        naptime,
    };
    Database::with_engine_and(Arc::new(MemoryEngine::new()), settings).expect("database")
}

/// `n_distinct` of `t.k`, if analyzed.
fn distinct(database: &Database) -> Option<f64> {
    let mut session = database.session();
    let rows = ok(
        &mut session,
        "SELECT n_distinct FROM pg_stats WHERE tablename = 't' AND attname = 'k'",
    );
    rows.first().map(|row| row[0].as_f64().expect("a number"))
}

/// Waits until `n_distinct` of `t.k` is `expected`.
fn wait_for_distinct(database: &Database, expected: f64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let matches = |found: Option<f64>| found.is_some_and(|found| (found - expected).abs() < 1e-6);
    while !matches(distinct(database)) {
        assert!(
            Instant::now() < deadline,
            "no automatic analyze: n_distinct is {:?}, expected {expected}",
            distinct(database)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn automatic_analyze_runs_once_enough_of_a_table_changed() {
    let database = database(Duration::from_millis(20));
    let mut session = database.session();
    ok(&mut session, "CREATE TABLE t (id int PRIMARY KEY, k int)");
    // 100 changes > 50 + 0.1 × 0 rows.
    ok(
        &mut session,
        "INSERT INTO t SELECT g, g % 10 FROM generate_series(1, 100) g",
    );
    wait_for_distinct(&database, 10.0);
    // 5 changes ≤ 50 + 0.1 × 100: not yet.
    ok(
        &mut session,
        "INSERT INTO t SELECT g, g FROM generate_series(101, 105) g",
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(distinct(&database), Some(10.0), "analyzed too early");
    // 105 changes since the analysis: now. 15 distinct values in 105
    // rows is more than a tenth: stored as a fraction of the rows.
    ok(
        &mut session,
        "UPDATE t SET k = 1000 + id % 10 WHERE id <= 100",
    );
    wait_for_distinct(&database, -15.0 / 105.0);
}

#[test]
fn rolled_back_changes_do_not_count() {
    let database = database(Duration::from_millis(20));
    let mut session = database.session();
    ok(&mut session, "CREATE TABLE t (id int PRIMARY KEY, k int)");
    ok(&mut session, "BEGIN");
    ok(
        &mut session,
        "INSERT INTO t SELECT g, g FROM generate_series(1, 500) g",
    );
    ok(&mut session, "ROLLBACK");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(distinct(&database), None);
}

#[test]
fn disabled_automatic_analyze_never_runs() {
    let settings = AutoAnalyze {
        enabled: false,
        naptime: Duration::from_millis(10),
        ..AutoAnalyze::default()
    };
    let database =
        Database::with_engine_and(Arc::new(MemoryEngine::new()), settings).expect("database");
    let mut session = database.session();
    ok(&mut session, "CREATE TABLE t (id int PRIMARY KEY, k int)");
    ok(
        &mut session,
        "INSERT INTO t SELECT g, g FROM generate_series(1, 500) g",
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(distinct(&database), None);
    ok(&mut session, "ANALYZE t");
    assert_eq!(distinct(&database), Some(-1.0));
}

#[test]
fn analyze_during_a_serializable_transaction_is_no_conflict() {
    let database = database(Duration::from_secs(3600));
    let mut setup = database.session();
    ok(&mut setup, "CREATE TABLE t (id int PRIMARY KEY, k int)");
    ok(&mut setup, "CREATE TABLE log (id int PRIMARY KEY)");
    ok(
        &mut setup,
        "INSERT INTO t SELECT g, g % 10 FROM generate_series(1, 100) g",
    );
    let mut reader = database.session();
    ok(&mut reader, "BEGIN ISOLATION LEVEL SERIALIZABLE");
    ok(&mut reader, "SELECT count(*) FROM t WHERE k = 3");
    // Statistics written and then read for planning in the open block.
    ok(&mut setup, "ANALYZE t");
    ok(&mut reader, "SELECT count(*) FROM t WHERE k = 4");
    ok(&mut reader, "INSERT INTO log VALUES (1)");
    assert_eq!(run(&mut reader, "COMMIT"), Ok(Vec::new()));
    // And the other way round: analyze inside a serializable block while
    // serializable writers change the table.
    let mut analyzer = database.session();
    ok(&mut analyzer, "BEGIN ISOLATION LEVEL SERIALIZABLE");
    ok(&mut analyzer, "ANALYZE t");
    let mut writer = database.session();
    ok(&mut writer, "BEGIN ISOLATION LEVEL SERIALIZABLE");
    ok(&mut writer, "SELECT count(*) FROM t");
    ok(&mut writer, "UPDATE t SET k = 0 WHERE id = 1");
    assert_eq!(run(&mut writer, "COMMIT"), Ok(Vec::new()));
    assert_eq!(run(&mut analyzer, "COMMIT"), Ok(Vec::new()));
}
