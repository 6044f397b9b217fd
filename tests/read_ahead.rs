//! Read-ahead scans (`sql/execution/read_ahead.rs`): a long scan hands its
//! storage reads to a worker thread. Whether it does must never show in a
//! result: the same rows in the same order as the serial scan, the same
//! errors, the same serialization failures.
//!
//! Each test compares a query run with read-ahead (the default,
//! `max_parallel_workers_per_gather = 2`) against the same query with it
//! off (`= 0`), and checks that workers did start.

mod sessions;

use basalt::Database;
use basalt::sql::execution::read_ahead_workers_started;
use basalt::sql::{Outcome, Session, Value};
use sessions::{database, ok, pivot_outcome, run};

/// Rows in the big table: well past the rows a scan reads itself before
/// it reads ahead.
const ROWS: i64 = 40_000;

fn big() -> Database {
    database(&format!(
        "CREATE TABLE big (id integer PRIMARY KEY, v integer NOT NULL, t text);
         INSERT INTO big SELECT g, g % 97, 'row ' || CAST(g AS text) FROM generate_series(1, {ROWS}) AS g;
         CREATE TABLE small (id integer PRIMARY KEY, name text NOT NULL);
         INSERT INTO small SELECT g, 'name ' || CAST(g AS text) FROM generate_series(0, 90) AS g"
    ))
}

/// A session with read-ahead off.
fn serial(database: &Database) -> Session {
    let mut session = database.session();
    ok(&mut session, "SET max_parallel_workers_per_gather = 0");
    session
}

/// Runs `sql` serially and with read-ahead; the results must be equal, and
/// a worker must have started for the second run.
fn same_with_and_without(database: &Database, sql: &str) -> Vec<Vec<Value>> {
    let expected = ok(&mut serial(database), sql);
    let started = read_ahead_workers_started();
    let found = ok(&mut database.session(), sql);
    assert!(
        read_ahead_workers_started() > started,
        "{sql}: no read-ahead worker started"
    );
    assert_eq!(found, expected, "{sql}");
    found
}

#[test]
fn read_ahead_returns_the_serial_scans_rows_in_key_order() {
    let database = big();
    let rows = same_with_and_without(&database, "SELECT id, v, t FROM big");
    assert_eq!(rows.len(), ROWS as usize);
    // Key order, which merge joins rely on.
    for (index, row) in rows.iter().enumerate() {
        assert_eq!(row[0], Value::Integer(index as i32 + 1));
    }
}

/// A backward scan of the key (no sort) hands the rest of its scan to the
/// worker too, which goes on in the scan's direction.
#[test]
fn read_ahead_keeps_a_backward_scans_reverse_key_order() {
    let database = big();
    for (sql, low) in [
        ("SELECT id, v, t FROM big ORDER BY id DESC", 1),
        (
            "SELECT id, v, t FROM big WHERE id > 5000 ORDER BY id DESC",
            5001,
        ),
    ] {
        let plan = ok(&mut database.session(), &format!("EXPLAIN {sql}"));
        let plan = format!("{plan:?}");
        assert!(
            plan.contains("Backward") && !plan.contains("Sort"),
            "{plan}"
        );
        let rows = same_with_and_without(&database, sql);
        let ids: Vec<&Value> = rows.iter().map(|row| &row[0]).collect();
        let expected: Vec<Value> = (low..=ROWS as i32).rev().map(Value::Integer).collect();
        assert_eq!(ids, expected.iter().collect::<Vec<_>>(), "{sql}");
    }
}

#[test]
fn read_ahead_under_filters_joins_and_aggregates() {
    let database = big();
    for sql in [
        "SELECT count(*), sum(v) FROM big WHERE v % 7 = 3",
        "SELECT t FROM big WHERE id > 20000 AND t LIKE '%7'",
        "SELECT s.name, count(*) FROM big b JOIN small s ON s.id = b.v \
         GROUP BY s.name ORDER BY s.name",
        "SELECT count(*) FROM big a JOIN big b ON a.id = b.id WHERE a.v <> b.v + 1",
        // A filter with a subquery runs where it always ran.
        "SELECT count(*) FROM big WHERE v = (SELECT max(id) FROM small)",
        "SELECT id FROM big b WHERE NOT EXISTS (SELECT 1 FROM small s WHERE s.id = b.v)",
    ] {
        let rows = same_with_and_without(&database, sql);
        assert!(!rows.is_empty(), "{sql}");
    }
}

#[test]
fn a_statement_parameter_reaches_a_read_ahead_scans_filter() {
    let database = big();
    let sql = "SELECT count(*) FROM big WHERE v > $1";
    let count = |session: &mut Session| {
        let prepared = session.prepare(sql, &[]).expect("prepare");
        let Outcome::Rows { mut cursor, .. } = session
            .execute(&prepared, &[Value::Integer(90)])
            .expect("execute")
        else {
            panic!("rows expected");
        };
        session.fetch_all(&mut cursor).expect("fetch")
    };
    let expected = count(&mut serial(&database));
    let started = read_ahead_workers_started();
    assert_eq!(count(&mut database.session()), expected);
    assert!(read_ahead_workers_started() > started);
    // v in 91..=96: 6 of every 97 ids.
    assert_eq!(expected, vec![vec![Value::BigInt(2_472)]]);
}

#[test]
fn an_error_after_read_ahead_started_fails_the_query_and_the_session_goes_on() {
    let database = big();
    let mut session = database.session();
    let sql = "SELECT sum(100 / (id - 30000)) FROM big";
    let started = read_ahead_workers_started();
    assert_eq!(run(&mut session, sql), Err("22012".into()));
    assert!(read_ahead_workers_started() > started);
    assert_eq!(
        ok(&mut session, "SELECT count(*) FROM big"),
        vec![vec![Value::BigInt(ROWS)]]
    );
}

#[test]
fn a_portal_fetched_in_batches_reads_serially_and_returns_every_row() {
    let database = big();
    let mut session = database.session();
    let prepared = session.prepare("SELECT id FROM big", &[]).expect("prepare");
    let Outcome::Rows { mut cursor, .. } = session.execute(&prepared, &[]).expect("execute") else {
        panic!("rows expected");
    };
    let mut ids = Vec::new();
    while !cursor.is_done() {
        let rows = session.fetch(&mut cursor, 1000).expect("fetch");
        if rows.is_empty() {
            break;
        }
        ids.extend(rows.into_iter().map(|row| row[0].clone()));
    }
    let expected: Vec<Value> = (1..=ROWS as i32).map(Value::Integer).collect();
    assert_eq!(ids, expected);
}

/// T1's scan meets T2's new version of a row far into the table, so on the
/// read-ahead worker, and must report `T1 →rw T2` to SSI from there; T2
/// read a row that T1 then writes (`T2 →rw T1`), and T2 committed first:
/// T1 is the pivot of a cycle and must fail. Without the worker's report
/// only one edge would exist and T1 would commit.
#[test]
fn a_read_ahead_scan_reports_the_versions_it_skips_to_ssi() {
    for workers in ["0", "2"] {
        let (outcome, started) = pivot_outcome(
            &big(),
            workers,
            "SELECT 1 FROM small WHERE id = 0",
            35_000,
            "SELECT id, v FROM big",
        );
        // Other tests start workers too: only a start can be asserted.
        assert!(started || workers == "0", "no worker started");
        assert_eq!(outcome, Err("40001".into()), "workers = {workers}");
    }
}

#[test]
fn max_parallel_workers_per_gather_is_a_checked_setting() {
    let database = big();
    let mut session = database.session();
    assert_eq!(
        ok(&mut session, "SHOW max_parallel_workers_per_gather"),
        vec![vec![Value::Text("2".into())]]
    );
    ok(&mut session, "SET max_parallel_workers_per_gather = 4");
    assert_eq!(
        ok(&mut session, "SHOW max_parallel_workers_per_gather"),
        vec![vec![Value::Text("4".into())]]
    );
    assert_eq!(
        run(&mut session, "SET max_parallel_workers_per_gather = 2000"),
        Err("22023".into())
    );
    assert_eq!(
        run(&mut session, "SET max_parallel_workers_per_gather = 'many'"),
        Err("22023".into())
    );
}
