//! Sequences under concurrency, in process: `nextval` from eight sessions
//! at once never hands out a value twice, SERIAL inserts from eight
//! sessions never collide, and a restart is transactional (others keep
//! the old position until it commits; a rollback keeps it for good).

use std::collections::BTreeSet;

mod sessions;

use basalt::sql::Value;
use sessions::{database, ok, run};

const SESSIONS: usize = 8;

fn value(rows: &[Vec<Value>]) -> i64 {
    rows[0][0].as_i64().expect("a bigint")
}

#[test]
fn nextval_from_eight_sessions_never_repeats_a_value() {
    let database = database("CREATE SEQUENCE tickets");
    let per_session = 300;
    let handed: Vec<Vec<i64>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..SESSIONS)
            .map(|worker| {
                let database = &database;
                scope.spawn(move || {
                    let mut session = database.session();
                    let mut values = Vec::new();
                    for call in 0..per_session {
                        // Every fifth value is taken in a transaction that
                        // rolls back: the value is still gone.
                        let rolled_back = (call + worker) % 5 == 0;
                        if rolled_back {
                            ok(&mut session, "BEGIN");
                        }
                        values.push(value(&ok(&mut session, "SELECT nextval('tickets')")));
                        if rolled_back {
                            ok(&mut session, "ROLLBACK");
                        }
                    }
                    values
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("worker"))
            .collect()
    });
    let mut all = BTreeSet::new();
    for values in &handed {
        // One session sees its values increase.
        assert!(values.windows(2).all(|pair| pair[0] < pair[1]));
        for value in values {
            assert!(all.insert(*value), "{value} handed out twice");
        }
    }
    // Without a crash no value is skipped either.
    let expected: BTreeSet<i64> = (1..=(SESSIONS * per_session) as i64).collect();
    assert_eq!(all, expected);
    let mut session = database.session();
    assert_eq!(
        value(&ok(&mut session, "SELECT nextval('tickets')")),
        (SESSIONS * per_session) as i64 + 1
    );
}

#[test]
fn serial_inserts_from_eight_sessions_never_collide() {
    let database = database("CREATE TABLE events (id bigserial PRIMARY KEY, author int NOT NULL)");
    let per_session = 100;
    std::thread::scope(|scope| {
        for worker in 0..SESSIONS {
            let database = &database;
            scope.spawn(move || {
                let mut session = database.session();
                for _ in 0..per_session {
                    ok(
                        &mut session,
                        &format!("INSERT INTO events (author) VALUES ({worker})"),
                    );
                }
            });
        }
    });
    let mut session = database.session();
    let rows = ok(
        &mut session,
        "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM events",
    );
    let total = (SESSIONS * per_session) as i64;
    let counts: Vec<i64> = rows[0].iter().map(|v| v.as_i64().expect("int")).collect();
    assert_eq!(counts, [total, total, 1, total]);
    let per_author = ok(
        &mut session,
        "SELECT count(*) FROM events GROUP BY author HAVING count(*) <> 100",
    );
    assert!(per_author.is_empty(), "every insert landed: {per_author:?}");
}

#[test]
fn a_restart_takes_effect_at_commit_and_a_rollback_undoes_it() {
    let database = database("CREATE SEQUENCE s; SELECT nextval('s'); SELECT nextval('s')");
    let mut restarter = database.session();
    let mut other = database.session();
    ok(&mut restarter, "BEGIN");
    ok(&mut restarter, "ALTER SEQUENCE s RESTART WITH 100");
    assert_eq!(value(&ok(&mut restarter, "SELECT nextval('s')")), 100);
    // The restart is not committed: others continue from the old position.
    assert_eq!(value(&ok(&mut other, "SELECT nextval('s')")), 3);
    ok(&mut restarter, "ROLLBACK");
    assert_eq!(value(&ok(&mut other, "SELECT nextval('s')")), 4);

    ok(&mut restarter, "BEGIN");
    ok(&mut restarter, "ALTER SEQUENCE s RESTART WITH 100");
    assert_eq!(value(&ok(&mut restarter, "SELECT nextval('s')")), 100);
    ok(&mut restarter, "COMMIT");
    assert_eq!(value(&ok(&mut other, "SELECT nextval('s')")), 101);
    // currval follows the sequence across its restart.
    assert_eq!(value(&ok(&mut other, "SELECT currval('s')")), 101);
}

#[test]
fn a_truncate_restart_rolled_back_leaves_ids_unique() {
    let database = database(
        "CREATE TABLE t (id serial PRIMARY KEY, v text); \
         INSERT INTO t (v) VALUES ('a'), ('b')",
    );
    let mut session = database.session();
    ok(&mut session, "BEGIN");
    ok(&mut session, "TRUNCATE t RESTART IDENTITY");
    ok(&mut session, "INSERT INTO t (v) VALUES ('inside')");
    assert_eq!(ok(&mut session, "SELECT id FROM t")[0][0].as_i64(), Some(1));
    ok(&mut session, "ROLLBACK");
    // The rows are back and the sequence where it was (the value the
    // restarted one gave is not taken from it): no duplicate key.
    ok(&mut session, "INSERT INTO t (v) VALUES ('c')");
    let ids: Vec<i64> = ok(&mut session, "SELECT id FROM t ORDER BY id")
        .iter()
        .map(|row| row[0].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, [1, 2, 3]);
}

#[test]
fn a_sequence_made_again_under_its_name_is_a_new_sequence() {
    let database = database("CREATE SEQUENCE s");
    let mut session = database.session();
    ok(&mut session, "SELECT nextval('s')");
    ok(&mut session, "DROP SEQUENCE s");
    ok(&mut session, "CREATE SEQUENCE s START 7");
    assert_eq!(
        run(&mut session, "SELECT currval('s')"),
        Err("55000".into())
    );
    assert_eq!(run(&mut session, "SELECT lastval()"), Err("55000".into()));
    assert_eq!(value(&ok(&mut session, "SELECT nextval('s')")), 7);
}
