//! Parallel aggregation (`sql/execution/parallel_aggregate.rs`): the rest
//! of a long scan under a hash aggregation is split among workers that
//! aggregate partially, and the query's thread combines their groups.
//! Whether it did must not show in a result beyond what PostgreSQL's
//! parallel aggregation also changes (the order of groups without ORDER BY,
//! the last digits of floating-point sums).
//!
//! Each test compares a query run with workers (the default,
//! `max_parallel_workers_per_gather = 2`) against the same query with them
//! off (`= 0`), and checks that workers did start.

mod sessions;

use basalt::Database;
use basalt::config::Config;
use basalt::sql::execution::read_ahead_workers_started;
use basalt::sql::{Outcome, Session, Value};
use sessions::{database, ok, pivot_outcome, run};

/// Rows in the big table: well past the rows a scan reads itself before
/// it hands the rest to workers.
const ROWS: i64 = 60_000;

fn big() -> Database {
    database(&format!(
        "CREATE TABLE big (id integer PRIMARY KEY, v integer NOT NULL, t text, f double precision);
         INSERT INTO big SELECT g, g % 97, 'row ' || CAST(g % 1000 AS text),
             CASE WHEN g % 10 = 0 THEN NULL ELSE g * 0.5 END
             FROM generate_series(1, {ROWS}) AS g"
    ))
}

/// A session with workers off.
fn serial(database: &Database) -> Session {
    let mut session = database.session();
    ok(&mut session, "SET max_parallel_workers_per_gather = 0");
    session
}

/// Runs `sql` in `session` with workers and in a serial session; returns
/// both results and asserts that workers started for the first.
fn with_and_without(
    database: &Database,
    session: &mut Session,
    sql: &str,
) -> (Vec<Vec<Value>>, Vec<Vec<Value>>) {
    let expected = ok(&mut serial(database), sql);
    let started = read_ahead_workers_started();
    let found = ok(session, sql);
    assert!(
        read_ahead_workers_started() > started,
        "{sql}: no worker started"
    );
    (found, expected)
}

/// Floats equal to a relative 1e-12 (sums added in another order); every
/// other value exactly.
fn assert_close(found: &[Vec<Value>], expected: &[Vec<Value>], sql: &str) {
    assert_eq!(found.len(), expected.len(), "{sql}");
    for (found_row, expected_row) in found.iter().zip(expected) {
        assert_eq!(found_row.len(), expected_row.len(), "{sql}");
        for (a, b) in found_row.iter().zip(expected_row) {
            match (a, b) {
                (Value::Double(a), Value::Double(b)) => assert!(
                    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()),
                    "{sql}: {a} against {b}"
                ),
                _ => assert_eq!(a, b, "{sql}"),
            }
        }
    }
}

#[test]
fn parallel_aggregation_gives_the_serial_groups_and_values() {
    let database = big();
    let mut session = database.session();
    for sql in [
        // Every combinable call, grouped, NULLs among the inputs.
        "SELECT v, count(*), count(f), sum(id), sum(f), avg(id), avg(f), min(t), max(t), \
         min(f), max(id), bool_and(id > 100), bool_or(id = 59999), every(v >= 0), \
         stddev(f), var_pop(id), stddev_pop(f), variance(id) \
         FROM big GROUP BY v ORDER BY v",
        // No GROUP BY, a filter on the scan: TPC-H Q6's shape.
        "SELECT sum(f * v), count(*) FROM big WHERE id BETWEEN 100 AND 55000 AND v < 40",
        // A group expression, a FILTER clause, a key range.
        "SELECT v % 5, count(*) FILTER (WHERE f > 100), sum(id * 2) FROM big \
         WHERE id > 2000 GROUP BY v % 5 ORDER BY 1",
        // Text groups.
        "SELECT t, count(*) FROM big GROUP BY t ORDER BY t",
        // A filter nothing passes: the one group of no GROUP BY remains.
        "SELECT count(*), sum(id), max(t) FROM big WHERE v > 500",
    ] {
        let (found, expected) = with_and_without(&database, &mut session, sql);
        assert!(!found.is_empty(), "{sql}");
        assert_close(&found, &expected, sql);
    }
}

#[test]
fn groups_come_out_once_whatever_part_saw_them_first() {
    let database = big();
    let mut session = database.session();
    // Room for every group in the workers' tables.
    ok(&mut session, "SET work_mem = '64MB'");
    // 60,000 groups, one row each: no group is in two workers' results,
    // yet every one is there once.
    let (found, expected) = with_and_without(
        &database,
        &mut session,
        "SELECT id, count(*) FROM big GROUP BY id ORDER BY id",
    );
    assert_eq!(found, expected);
    assert_eq!(found.len(), ROWS as usize);
}

/// Whatever `work_mem` leaves the workers (their groups outgrow their
/// share, and the query's thread reads the rest again) or the query's
/// thread (its table spilled before the rest was handed out, so the rest
/// stays with it), the result is the serial one.
#[test]
fn small_work_mem_falls_back_to_the_serial_rest_with_the_same_result() {
    let database = big();
    for work_mem in ["64kB", "256kB", "1MB", "4MB"] {
        for sql in [
            "SELECT id / 3, count(*), sum(v) FROM big GROUP BY id / 3 ORDER BY 1",
            "SELECT id % 20000, max(t), sum(id) FROM big GROUP BY id % 20000 ORDER BY 1",
        ] {
            let mut session = database.session();
            ok(&mut session, &format!("SET work_mem = '{work_mem}'"));
            let mut reference = serial(&database);
            ok(&mut reference, &format!("SET work_mem = '{work_mem}'"));
            let expected = ok(&mut reference, sql);
            assert_eq!(ok(&mut session, sql), expected, "{sql} at {work_mem}");
        }
    }
}

/// On disk, the rest is cut at the B+tree's separators (the in-memory
/// engine of the other tests cuts at keys): the parts meet exactly.
#[test]
fn an_on_disk_table_is_split_at_btree_separators() {
    let directory = tempfile::tempdir().expect("tempdir");
    let database = Database::open(&Config::new(directory.path())).expect("open");
    let mut session = database.session();
    ok(
        &mut session,
        "CREATE TABLE wide (id integer PRIMARY KEY, v integer NOT NULL, pad text NOT NULL)",
    );
    let pad = "x".repeat(200);
    ok(
        &mut session,
        &format!("INSERT INTO wide SELECT g, g % 13, '{pad}' FROM generate_series(1, 50000) AS g"),
    );
    ok(&mut session, "SET work_mem = '64MB'");
    for sql in [
        "SELECT v, count(*), sum(id), min(id), max(id) FROM wide GROUP BY v ORDER BY v",
        "SELECT id / 2, count(*) FROM wide GROUP BY id / 2 ORDER BY 1",
    ] {
        let (found, expected) = with_and_without(&database, &mut session, sql);
        assert_eq!(found, expected, "{sql}");
    }
    let total = ok(
        &mut session,
        "SELECT count(*), sum(id) FROM wide WHERE v < 13",
    );
    assert_eq!(
        total,
        vec![vec![Value::BigInt(50_000), Value::BigInt(1_250_025_000)]]
    );
}

#[test]
fn a_statement_parameter_reaches_the_workers() {
    let database = big();
    let sql = "SELECT v, count(*) FROM big WHERE id > $1 GROUP BY v ORDER BY v";
    let grouped = |session: &mut Session| {
        let prepared = session.prepare(sql, &[]).expect("prepare");
        let Outcome::Rows { mut cursor, .. } = session
            .execute(&prepared, &[Value::Integer(20_000)])
            .expect("execute")
        else {
            panic!("rows expected");
        };
        session.fetch_all(&mut cursor).expect("fetch")
    };
    let expected = grouped(&mut serial(&database));
    let started = read_ahead_workers_started();
    let found = grouped(&mut database.session());
    assert!(read_ahead_workers_started() > started);
    assert_eq!(found, expected);
    let total: i64 = found
        .iter()
        .map(|row| match row[1] {
            Value::BigInt(count) => count,
            ref other => panic!("a count of {other:?}"),
        })
        .sum();
    assert_eq!(total, ROWS - 20_000);
}

#[test]
fn an_error_in_a_worker_fails_the_query_and_the_session_goes_on() {
    let database = big();
    let mut session = database.session();
    let started = read_ahead_workers_started();
    assert_eq!(
        run(
            &mut session,
            "SELECT v, sum(100 / (id - 50000)) FROM big GROUP BY v"
        ),
        Err("22012".into())
    );
    assert!(read_ahead_workers_started() > started);
    assert_eq!(
        ok(&mut session, "SELECT count(*) FROM big"),
        vec![vec![Value::BigInt(ROWS)]]
    );
}

/// Calls that do not combine (`string_agg`, DISTINCT, ORDER BY) and
/// expressions that need the query's thread (subqueries) keep the whole
/// aggregation there, with the serial result.
#[test]
fn what_does_not_combine_stays_serial() {
    let database = big();
    for sql in [
        "SELECT v, length(string_agg(t, ',')) FROM big GROUP BY v ORDER BY v",
        "SELECT v, count(DISTINCT t) FROM big GROUP BY v ORDER BY v",
        "SELECT count(*) FROM big WHERE v = (SELECT max(v) - 1 FROM big WHERE id < 100)",
    ] {
        let expected = ok(&mut serial(&database), sql);
        assert_eq!(ok(&mut database.session(), sql), expected, "{sql}");
    }
}

/// T1's aggregation meets T2's new version of a row far into the table, so
/// in a worker, which must report `T1 →rw T2` to SSI; T2 read a row that
/// T1 then writes (`T2 →rw T1`), and T2 committed first: T1 is the pivot
/// of a cycle and must fail, with workers or without.
#[test]
fn a_parallel_aggregation_reports_the_versions_it_skips_to_ssi() {
    for workers in ["0", "2"] {
        let (outcome, started) = pivot_outcome(
            &big(),
            workers,
            "SELECT 1 FROM big WHERE id = 1",
            55_000,
            "SELECT v, sum(id) FROM big GROUP BY v",
        );
        // Other tests start workers too: only a start can be asserted.
        assert!(started || workers == "0", "no worker started");
        assert_eq!(outcome, Err("40001".into()), "workers = {workers}");
    }
}
