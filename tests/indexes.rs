//! Secondary indexes under concurrency: uniqueness as PostgreSQL enforces
//! it between transactions, and DDL against running writers. Every test
//! ends by checking that each index agrees with its table
//! (`Database::check_indexes`).

use std::time::Duration;

mod sessions;

use basalt::Database;
use basalt::sql::Session;
use sessions::{Rows, begin, database, ok, run};

fn count(database: &Database, sql: &str) -> i64 {
    let mut session = database.session();
    ok(&mut session, sql)[0][0].as_i64().expect("an integer")
}

/// Runs `sql` on a thread of its own and checks that it waits (for
/// `what`); the result arrives when it ends.
fn blocked(
    mut session: Session,
    sql: &'static str,
    what: &str,
) -> std::thread::JoinHandle<(Session, Rows)> {
    let handle = std::thread::spawn(move || {
        let result = run(&mut session, sql);
        (session, result)
    });
    // Time for the statement to reach its wait.
    std::thread::sleep(Duration::from_millis(100));
    assert!(!handle.is_finished(), "{sql} waits for {what}");
    handle
}

fn consistent(database: &Database) {
    let check = database
        .check_indexes()
        .expect("every index agrees with its table");
    assert!(check.indexes > 0);
}

const SETUP: &str = "CREATE TABLE accounts (id int PRIMARY KEY, email text UNIQUE)";

#[test]
fn a_committed_duplicate_is_a_unique_violation_at_every_level() {
    for level in ["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"] {
        let database = database(SETUP);
        let mut early = begin(&database, level);
        // The snapshot is taken before the duplicate commits.
        ok(&mut early, "SELECT 1");
        let mut other = database.session();
        ok(&mut other, "INSERT INTO accounts VALUES (1, 'a@x')");
        assert_eq!(
            run(&mut early, "INSERT INTO accounts VALUES (2, 'a@x')"),
            Err("23505".into()),
            "{level}"
        );
        ok(&mut early, "ROLLBACK");
        consistent(&database);
    }
}

#[test]
fn an_in_progress_duplicate_makes_the_writer_wait_then_fail_if_it_commits() {
    let database = database(SETUP);
    let mut first = begin(&database, "READ COMMITTED");
    ok(&mut first, "INSERT INTO accounts VALUES (1, 'a@x')");
    let second = blocked(
        database.session(),
        "INSERT INTO accounts VALUES (2, 'a@x')",
        "the first insert",
    );
    ok(&mut first, "COMMIT");
    let (_, result) = second.join().expect("thread");
    assert_eq!(result, Err("23505".into()));
    assert_eq!(count(&database, "SELECT count(*) FROM accounts"), 1);
    consistent(&database);
}

#[test]
fn an_in_progress_duplicate_makes_the_writer_wait_then_succeed_if_it_aborts() {
    let database = database(SETUP);
    let mut first = begin(&database, "SERIALIZABLE");
    ok(&mut first, "INSERT INTO accounts VALUES (1, 'a@x')");
    let second = blocked(
        database.session(),
        "INSERT INTO accounts VALUES (2, 'a@x')",
        "the first insert",
    );
    ok(&mut first, "ROLLBACK");
    let (_, result) = second.join().expect("thread");
    assert_eq!(result, Ok(Vec::new()));
    assert_eq!(
        count(&database, "SELECT id FROM accounts WHERE email = 'a@x'"),
        2
    );
    consistent(&database);
}

#[test]
fn an_in_progress_delete_of_the_duplicate_lets_the_writer_in_once_it_commits() {
    let database = database(&format!("{SETUP}; INSERT INTO accounts VALUES (1, 'a@x')"));
    let mut deleter = begin(&database, "READ COMMITTED");
    ok(&mut deleter, "DELETE FROM accounts WHERE id = 1");
    let inserter = blocked(
        database.session(),
        "INSERT INTO accounts VALUES (2, 'a@x')",
        "the deleter",
    );
    ok(&mut deleter, "COMMIT");
    let (_, result) = inserter.join().expect("thread");
    assert_eq!(result, Ok(Vec::new()));
    consistent(&database);
}

/// PostgreSQL's `read-write-unique` isolation test: two SERIALIZABLE
/// transactions each read that no row exists, then insert it. The second
/// insert fails with 40001, not 23505, whether it came before the first
/// committed (it waited) or after; a transaction that saw the row gets
/// 23505.
#[test]
fn a_serializable_duplicate_after_a_read_that_saw_no_row_is_a_serialization_failure() {
    // The second insert after the first committed.
    let database = database(SETUP);
    let mut first = begin(&database, "SERIALIZABLE");
    let mut second = begin(&database, "SERIALIZABLE");
    assert!(ok(&mut first, "SELECT * FROM accounts WHERE email = 'a@x'").is_empty());
    assert!(ok(&mut second, "SELECT * FROM accounts WHERE email = 'a@x'").is_empty());
    ok(&mut first, "INSERT INTO accounts VALUES (1, 'a@x')");
    ok(&mut first, "COMMIT");
    assert_eq!(
        run(&mut second, "INSERT INTO accounts VALUES (2, 'a@x')"),
        Err("40001".into())
    );
    ok(&mut second, "ROLLBACK");

    // The second insert while the first still runs: it waits, then fails.
    let database = self::database(SETUP);
    let mut first = begin(&database, "SERIALIZABLE");
    let mut second = begin(&database, "SERIALIZABLE");
    assert!(ok(&mut first, "SELECT * FROM accounts WHERE email = 'a@x'").is_empty());
    assert!(ok(&mut second, "SELECT * FROM accounts WHERE email = 'a@x'").is_empty());
    ok(&mut first, "INSERT INTO accounts VALUES (1, 'a@x')");
    let waiting = blocked(
        second,
        "INSERT INTO accounts VALUES (2, 'a@x')",
        "the first inserter",
    );
    ok(&mut first, "COMMIT");
    let (mut second, result) = waiting.join().expect("thread");
    assert_eq!(result, Err("40001".into()));
    ok(&mut second, "ROLLBACK");

    // A transaction whose snapshot saw the row: a plain duplicate.
    let mut third = begin(&database, "SERIALIZABLE");
    assert_eq!(
        ok(&mut third, "SELECT * FROM accounts WHERE email = 'a@x'").len(),
        1
    );
    assert_eq!(
        run(&mut third, "INSERT INTO accounts VALUES (3, 'a@x')"),
        Err("23505".into())
    );
    consistent(&database);
}

#[test]
fn create_index_waits_for_running_writers_and_indexes_their_rows() {
    let database = database("CREATE TABLE items (id int PRIMARY KEY, tag text)");
    let mut writer = begin(&database, "REPEATABLE READ");
    ok(&mut writer, "INSERT INTO items VALUES (1, 'a'), (2, 'b')");
    let builder = blocked(
        database.session(),
        "CREATE UNIQUE INDEX items_tag ON items (tag)",
        "the writer",
    );
    ok(&mut writer, "COMMIT");
    let (_, result) = builder.join().expect("thread");
    assert_eq!(result, Ok(Vec::new()));
    let check = database.check_indexes().expect("consistent");
    assert_eq!(check.entries, 2, "both committed rows are indexed");
    let mut session = database.session();
    assert_eq!(
        run(&mut session, "INSERT INTO items VALUES (3, 'a')"),
        Err("23505".into())
    );
}

#[test]
fn a_writer_whose_snapshot_predates_an_index_maintains_it() {
    let database = database("CREATE TABLE items (id int PRIMARY KEY, tag text)");
    let mut old = begin(&database, "REPEATABLE READ");
    // The writer's snapshot (and its view of the catalog) comes first ...
    ok(&mut old, "SELECT count(*) FROM items");
    // ... then an index is created and committed ...
    let mut ddl = database.session();
    ok(&mut ddl, "CREATE UNIQUE INDEX items_tag ON items (tag)");
    ok(&mut ddl, "INSERT INTO items VALUES (1, 'a')");
    // ... and the old writer's rows still get their entries and checks.
    assert_eq!(
        run(&mut old, "INSERT INTO items VALUES (2, 'a')"),
        Err("23505".into())
    );
    ok(&mut old, "ROLLBACK");
    let mut old = begin(&database, "REPEATABLE READ");
    ok(&mut old, "SELECT count(*) FROM items");
    ok(&mut ddl, "CREATE INDEX items_by_tag ON items (tag)");
    ok(&mut old, "INSERT INTO items VALUES (2, 'b')");
    ok(&mut old, "UPDATE items SET tag = 'c' WHERE id = 1");
    ok(&mut old, "COMMIT");
    let check = database.check_indexes().expect("consistent");
    assert_eq!(
        check,
        basalt::sql::integrity::IndexCheck {
            indexes: 2,
            entries: 4
        }
    );
}

#[test]
fn a_writer_waits_for_a_running_create_index_and_drop_index() {
    let database = database("CREATE TABLE items (id int PRIMARY KEY, tag text)");
    let mut ddl = begin(&database, "READ COMMITTED");
    ok(&mut ddl, "CREATE INDEX items_tag ON items (tag)");
    let writer = blocked(
        database.session(),
        "INSERT INTO items VALUES (1, 'a')",
        "the CREATE INDEX to end",
    );
    ok(&mut ddl, "COMMIT");
    let (_, result) = writer.join().expect("thread");
    assert_eq!(result, Ok(Vec::new()));
    consistent(&database);
    let mut ddl = begin(&database, "READ COMMITTED");
    ok(&mut ddl, "DROP INDEX items_tag");
    let writer = blocked(
        database.session(),
        "INSERT INTO items VALUES (2, 'b')",
        "the DROP INDEX to end",
    );
    ok(&mut ddl, "COMMIT");
    let (_, result) = writer.join().expect("thread");
    assert_eq!(result, Ok(Vec::new()));
    assert_eq!(count(&database, "SELECT count(*) FROM items"), 2);
}

#[test]
fn lock_waits_between_ddl_and_writers_are_deadlocks_when_they_cycle() {
    let database = database(
        "CREATE TABLE left_side (id int PRIMARY KEY); CREATE TABLE right_side (id int PRIMARY KEY)",
    );
    let mut first = begin(&database, "READ COMMITTED");
    let mut second = begin(&database, "READ COMMITTED");
    ok(&mut first, "INSERT INTO left_side VALUES (1)");
    ok(&mut second, "INSERT INTO right_side VALUES (1)");
    let waiting = blocked(
        first,
        "CREATE INDEX ON right_side (id)",
        "the writer of right_side",
    );
    assert_eq!(
        run(&mut second, "CREATE INDEX ON left_side (id)"),
        Err("40P01".into())
    );
    ok(&mut second, "ROLLBACK");
    let (mut first, result) = waiting.join().expect("thread");
    assert_eq!(result, Ok(Vec::new()));
    ok(&mut first, "COMMIT");
    consistent(&database);
}
