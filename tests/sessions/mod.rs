//! Helpers shared by the tests that drive SQL sessions in process: run a
//! statement and get rows or its SQLSTATE, set up a database, open a block.

#![allow(dead_code)]

use basalt::Database;
use basalt::sql::{Outcome, Session, Value};

/// Rows, or the SQLSTATE of the error.
pub type Rows = Result<Vec<Vec<Value>>, String>;

/// Runs one statement; rows for a query, nothing for a command.
pub fn run(session: &mut Session, sql: &str) -> Rows {
    let outcome = session
        .prepare(sql, &[])
        .and_then(|prepared| session.execute(&prepared, &[]));
    match outcome {
        Ok(Outcome::Rows { mut cursor, .. }) => session
            .fetch_all(&mut cursor)
            .map_err(|error| error.sqlstate().code().to_string()),
        Ok(_) => Ok(Vec::new()),
        Err(error) => Err(error.sqlstate().code().to_string()),
    }
}

/// Runs a statement that must succeed.
pub fn ok(session: &mut Session, sql: &str) -> Vec<Vec<Value>> {
    run(session, sql).unwrap_or_else(|code| panic!("{sql}: {code}"))
}

/// An in-memory database after the `;`-separated `setup` statements.
pub fn database(setup: &str) -> Database {
    let database = Database::open_in_memory().expect("database");
    let mut session = database.session();
    for sql in setup.split(';').filter(|sql| !sql.trim().is_empty()) {
        ok(&mut session, sql);
    }
    database
}

/// The pivot shape of SSI that scan workers must report to
/// (`read_ahead.rs`, `parallel_aggregate.rs`), with `workers` as
/// `max_parallel_workers_per_gather`: T1 begins SERIALIZABLE and reads
/// something else (`t1_first`); T2 reads row 5 of `big`, updates row `far`
/// (far into the table, so past where workers take over) and commits; T1
/// runs `read`, which meets T2's version (`T1 →rw T2`), then writes row 5
/// (`T2 →rw T1`) and commits. T1 is the pivot of a cycle and must fail
/// with 40001; without a worker's report only one edge would exist. Returns
/// T1's outcome and whether `read` started workers.
pub fn pivot_outcome(
    database: &Database,
    workers: &str,
    t1_first: &str,
    far: i64,
    read: &str,
) -> (Rows, bool) {
    let mut t1 = begin(database, "SERIALIZABLE");
    ok(
        &mut t1,
        &format!("SET max_parallel_workers_per_gather = {workers}"),
    );
    ok(&mut t1, t1_first);
    let mut t2 = begin(database, "SERIALIZABLE");
    ok(&mut t2, "SELECT v FROM big WHERE id = 5");
    ok(
        &mut t2,
        &format!("UPDATE big SET v = v + 1 WHERE id = {far}"),
    );
    ok(&mut t2, "COMMIT");
    let started = basalt::sql::execution::read_ahead_workers_started();
    let result = run(&mut t1, read);
    let workers_started = basalt::sql::execution::read_ahead_workers_started() > started;
    let outcome = result
        .and_then(|_| run(&mut t1, "UPDATE big SET v = 0 WHERE id = 5"))
        .and_then(|_| run(&mut t1, "COMMIT"));
    (outcome, workers_started)
}

/// A session inside `BEGIN ISOLATION LEVEL level`.
pub fn begin(database: &Database, level: &str) -> Session {
    let mut session = database.session();
    ok(&mut session, &format!("BEGIN ISOLATION LEVEL {level}"));
    session
}
