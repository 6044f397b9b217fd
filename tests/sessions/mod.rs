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

/// A session inside `BEGIN ISOLATION LEVEL level`.
pub fn begin(database: &Database, level: &str) -> Session {
    let mut session = database.session();
    ok(&mut session, &format!("BEGIN ISOLATION LEVEL {level}"));
    session
}
