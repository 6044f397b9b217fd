//! `INSERT … ON CONFLICT` under concurrency, in process: sessions
//! upserting the same keys never both insert and never fail with 23505,
//! at READ COMMITTED and at SERIALIZABLE; a session that meets another's
//! uncommitted insert of its key waits for it, then updates the row (or
//! skips it).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

mod sessions;

use sessions::{database, ok, run};

const SESSIONS: usize = 8;

fn counters(database: &basalt::Database) -> Vec<(i64, i64)> {
    let mut session = database.session();
    ok(&mut session, "SELECT id, n FROM counters ORDER BY id")
        .iter()
        .map(|row| (row[0].as_i64().expect("id"), row[1].as_i64().expect("n")))
        .collect()
}

/// Eight sessions increment five counters by upsert; every statement that
/// succeeds counts once, none fails with 23505.
fn increments_add_up(level: &str) {
    let database = database("CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL)");
    let succeeded = AtomicUsize::new(0);
    let per_session = 60;
    std::thread::scope(|scope| {
        for worker in 0..SESSIONS {
            let (database, succeeded) = (&database, &succeeded);
            scope.spawn(move || {
                let mut session = database.session();
                ok(
                    &mut session,
                    &format!("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL {level}"),
                );
                for call in 0..per_session {
                    let key = (worker + call) % 5;
                    let sql = format!(
                        "INSERT INTO counters VALUES ({key}, 1) \
                         ON CONFLICT (id) DO UPDATE SET n = counters.n + excluded.n"
                    );
                    match run(&mut session, &sql) {
                        Ok(_) => {
                            succeeded.fetch_add(1, Ordering::Relaxed);
                        }
                        // A serialization failure is allowed (PostgreSQL's
                        // SERIALIZABLE has them too); a duplicate never is.
                        Err(code) => assert_eq!(code, "40001", "{level}: {sql}"),
                    }
                }
            });
        }
    });
    let rows = counters(&database);
    assert_eq!(rows.len(), 5, "{level}: one row per key: {rows:?}");
    let total: i64 = rows.iter().map(|(_, n)| n).sum();
    assert_eq!(
        total,
        succeeded.load(Ordering::Relaxed) as i64,
        "{level}: every successful upsert counted once"
    );
    if level == "READ COMMITTED" {
        assert_eq!(total, (SESSIONS * per_session) as i64, "no failures");
    }
}

#[test]
fn concurrent_upserts_at_read_committed_all_count() {
    increments_add_up("READ COMMITTED");
}

#[test]
fn concurrent_upserts_at_serializable_never_duplicate() {
    increments_add_up("SERIALIZABLE");
}

#[test]
fn an_upsert_waits_for_an_uncommitted_insert_of_its_key_then_updates() {
    for level in ["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"] {
        let database = database("CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL)");
        let mut first = database.session();
        ok(&mut first, &format!("BEGIN ISOLATION LEVEL {level}"));
        ok(
            &mut first,
            "INSERT INTO counters VALUES (1, 10) ON CONFLICT (id) DO UPDATE SET n = counters.n + 1",
        );
        let outcome = std::thread::scope(|scope| {
            let waiter = scope.spawn(|| {
                let mut second = database.session();
                run(
                    &mut second,
                    "INSERT INTO counters VALUES (1, 20) \
                     ON CONFLICT (id) DO UPDATE SET n = counters.n + 1",
                )
            });
            // The second upsert waits for the first transaction's insert.
            std::thread::sleep(Duration::from_millis(100));
            assert!(!waiter.is_finished(), "{level}: the second upsert waits");
            ok(&mut first, "COMMIT");
            waiter.join().expect("waiter")
        });
        assert_eq!(outcome, Ok(Vec::new()), "{level}");
        assert_eq!(counters(&database), [(1, 11)], "{level}");
    }
}

#[test]
fn do_nothing_from_eight_sessions_inserts_each_key_once() {
    let database = database(
        "CREATE TABLE claims (id int PRIMARY KEY, owner int NOT NULL); \
         CREATE UNIQUE INDEX claims_owner ON claims (owner, id)",
    );
    std::thread::scope(|scope| {
        for worker in 0..SESSIONS {
            let database = &database;
            scope.spawn(move || {
                let mut session = database.session();
                for key in 0..40 {
                    let sql = format!(
                        "INSERT INTO claims VALUES ({key}, {worker}) ON CONFLICT DO NOTHING"
                    );
                    match run(&mut session, &sql) {
                        Ok(_) => {}
                        Err(code) => assert_eq!(code, "40001", "{sql}"),
                    }
                }
            });
        }
    });
    let mut session = database.session();
    let rows = ok(
        &mut session,
        "SELECT count(*), count(DISTINCT id) FROM claims",
    );
    assert_eq!(rows[0][0].as_i64(), Some(40));
    assert_eq!(rows[0][1].as_i64(), Some(40));
}
