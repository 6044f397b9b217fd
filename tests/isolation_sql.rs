//! Isolation anomalies through SQL: the reads that matter go through joins
//! and subqueries, so these tests check that every operator registers what
//! it read with SSI (a join's key lookups, a subquery's scans, an EXISTS
//! that finds nothing), and that it registers no more than that.
//!
//! Each anomaly runs at REPEATABLE READ, where snapshot isolation lets it
//! happen as in PostgreSQL (both transactions commit and the result is one
//! no serial order gives), and at SERIALIZABLE, where exactly one of the two
//! transactions fails with 40001 (at a statement or at COMMIT) and the
//! other's effects are what a serial order gives.
//!
//! Two sessions run on one thread. None of the shapes has a write-write
//! conflict, so no statement waits.

mod sessions;

use basalt::Database;
use basalt::sql::{Session, Value};
use sessions::{begin, database, ok, run};

fn int(session: &mut Session, sql: &str) -> i64 {
    ok(session, sql)[0][0]
        .as_i64()
        .unwrap_or_else(|| panic!("{sql}: not an integer"))
}

/// How a transaction ended: committed, or the SQLSTATE it failed with.
#[derive(Debug, PartialEq)]
enum End {
    Committed,
    Failed(String),
}

/// Runs `statements` then COMMIT, stopping at the first error (and rolling
/// back, as a client would).
fn finish(session: &mut Session, statements: &[&str]) -> End {
    for sql in statements.iter().copied().chain(["COMMIT"]) {
        if let Err(code) = run(session, sql) {
            let _ = run(session, "ROLLBACK");
            return End::Failed(code);
        }
    }
    End::Committed
}

/// Exactly one of two SERIALIZABLE transactions failed, with 40001.
fn one_failed(first: &End, second: &End) {
    let failed = [first, second]
        .iter()
        .filter(|end| ***end == End::Failed("40001".into()))
        .count();
    let committed = [first, second]
        .iter()
        .filter(|end| ***end == End::Committed)
        .count();
    assert_eq!(
        (failed, committed),
        (1, 1),
        "first {first:?}, second {second:?}"
    );
}

/// Judges two transactions of an anomaly run at `level` by how they ended
/// and a count read afterwards: at SERIALIZABLE exactly one failed and the
/// count is the one a serial order gives; at REPEATABLE READ both committed
/// and the count shows the anomaly.
fn judge(level: &str, first: End, second: End, observed: i64, serial: i64, anomaly: i64) {
    if level == "SERIALIZABLE" {
        one_failed(&first, &second);
        assert_eq!(observed, serial, "a serial order gives {serial}");
    } else {
        assert_eq!((first, second), (End::Committed, End::Committed));
        assert_eq!(observed, anomaly, "snapshot isolation allows the anomaly");
    }
}

const LEVELS: [&str; 2] = ["REPEATABLE READ", "SERIALIZABLE"];

/// Write skew (G2-item) where each transaction's check is a join: two
/// doctors on call, each transaction counts the on-call doctors of the
/// ward through a join and takes its own doctor off call if another
/// remains. Serially, the second one sees one doctor and keeps them.
#[test]
fn write_skew_through_a_join() {
    for level in LEVELS {
        let database = database(
            "CREATE TABLE wards (id INT PRIMARY KEY, name TEXT);
             CREATE TABLE doctors (id INT PRIMARY KEY, ward INT, on_call BOOLEAN);
             INSERT INTO wards VALUES (1, 'east'), (2, 'west');
             INSERT INTO doctors VALUES (1, 1, true), (2, 1, true), (3, 2, true)",
        );
        let check = "SELECT count(*) FROM doctors d JOIN wards w ON w.id = d.ward \
                     WHERE w.name = 'east' AND d.on_call";
        let mut alice = begin(&database, level);
        let mut bob = begin(&database, level);
        assert_eq!(int(&mut alice, check), 2);
        assert_eq!(int(&mut bob, check), 2);
        let alice_end = finish(
            &mut alice,
            &["UPDATE doctors SET on_call = false WHERE id = 1"],
        );
        let bob_end = finish(
            &mut bob,
            &["UPDATE doctors SET on_call = false WHERE id = 2"],
        );
        let mut after = database.session();
        let on_call = int(
            &mut after,
            "SELECT count(*) FROM doctors WHERE ward = 1 AND on_call",
        );
        judge(level, alice_end, bob_end, on_call, 1, 0);
    }
}

/// Write skew where the check is a scalar subquery inside the UPDATE
/// itself: the subquery's reads count as the transaction's reads.
#[test]
fn write_skew_through_a_scalar_subquery_in_update() {
    for level in LEVELS {
        let database = database(
            "CREATE TABLE doctors (id INT PRIMARY KEY, on_call BOOLEAN);
             INSERT INTO doctors VALUES (1, true), (2, true)",
        );
        let take_off = |id: i32| {
            format!(
                "UPDATE doctors SET on_call = false WHERE id = {id} \
                 AND (SELECT count(*) FROM doctors WHERE on_call) >= 2"
            )
        };
        let mut alice = begin(&database, level);
        let mut bob = begin(&database, level);
        // Each statement reads before either writes: take both snapshots
        // and reads first, so the two UPDATEs overlap.
        assert_eq!(int(&mut alice, "SELECT count(*) FROM doctors"), 2);
        assert_eq!(int(&mut bob, "SELECT count(*) FROM doctors"), 2);
        let alice_update = run(&mut alice, &take_off(1));
        let bob_update = run(&mut bob, &take_off(2));
        let alice_end = match alice_update {
            Ok(_) => finish(&mut alice, &[]),
            Err(code) => End::Failed(code),
        };
        let bob_end = match bob_update {
            Ok(_) => finish(&mut bob, &[]),
            Err(code) => End::Failed(code),
        };
        let mut after = database.session();
        let on_call = int(&mut after, "SELECT count(*) FROM doctors WHERE on_call");
        judge(level, alice_end, bob_end, on_call, 1, 0);
    }
}

/// A phantom (G2 through a predicate): check-then-insert with NOT EXISTS.
/// Each transaction books room 1 for an hour only if no booking overlaps;
/// the subquery finds nothing, so what it registers must be the range it
/// searched, not rows.
#[test]
fn phantom_through_not_exists() {
    for level in LEVELS {
        let database = database(
            "CREATE TABLE rooms (id INT PRIMARY KEY);
             CREATE TABLE bookings (room INT, hour INT, who TEXT, PRIMARY KEY (room, hour));
             INSERT INTO rooms VALUES (1), (2)",
        );
        let free = "SELECT r.id FROM rooms r WHERE r.id = 1 AND NOT EXISTS \
                    (SELECT 1 FROM bookings b WHERE b.room = r.id AND b.hour BETWEEN 9 AND 11)";
        let mut alice = begin(&database, level);
        let mut bob = begin(&database, level);
        assert_eq!(ok(&mut alice, free).len(), 1);
        assert_eq!(ok(&mut bob, free).len(), 1);
        let alice_end = finish(&mut alice, &["INSERT INTO bookings VALUES (1, 9, 'alice')"]);
        let bob_end = finish(&mut bob, &["INSERT INTO bookings VALUES (1, 10, 'bob')"]);
        let mut after = database.session();
        let booked = int(&mut after, "SELECT count(*) FROM bookings WHERE room = 1");
        judge(level, alice_end, bob_end, booked, 1, 2);
    }
}

/// A phantom through `IN (subquery)` decorrelated into a semi-join: the
/// sum of a customer's order lines must stay under a limit, each
/// transaction checks it through the join and adds a line to a different
/// order.
#[test]
fn phantom_through_in_subquery() {
    for level in LEVELS {
        let database = database(
            "CREATE TABLE orders (id INT PRIMARY KEY, customer INT);
             CREATE TABLE lines (order_id INT, line INT, amount INT, PRIMARY KEY (order_id, line));
             INSERT INTO orders VALUES (1, 7), (2, 7), (3, 8);
             INSERT INTO lines VALUES (1, 1, 40), (2, 1, 40)",
        );
        let total = "SELECT coalesce(sum(amount), 0) FROM lines \
                     WHERE order_id IN (SELECT id FROM orders WHERE customer = 7)";
        let mut alice = begin(&database, level);
        let mut bob = begin(&database, level);
        // Limit 100: each sees 80 and adds 15.
        assert_eq!(int(&mut alice, total), 80);
        assert_eq!(int(&mut bob, total), 80);
        let alice_end = finish(&mut alice, &["INSERT INTO lines VALUES (1, 2, 15)"]);
        let bob_end = finish(&mut bob, &["INSERT INTO lines VALUES (2, 2, 15)"]);
        let mut after = database.session();
        let sum = int(&mut after, total);
        judge(level, alice_end, bob_end, sum, 95, 110);
    }
}

/// The read-only anomaly (Fekete, O'Neil and O'Neil 2004), with the report
/// reading through a join: a deposit batch number and receipts. T2 adds a
/// receipt to the current batch, T3 closes the batch, and a read-only T1
/// that starts after T3 commits reports the closed batch through a join
/// without T2's receipt, which T2 then commits into it. SERIALIZABLE must
/// fail one of them; here T2, the pivot, fails at commit (or T1 at its
/// read), as in PostgreSQL.
#[test]
fn read_only_anomaly_through_a_join() {
    for level in LEVELS {
        let database = database(
            "CREATE TABLE control (id INT PRIMARY KEY, batch INT);
             CREATE TABLE receipts (id INT PRIMARY KEY, batch INT, amount INT);
             INSERT INTO control VALUES (1, 1);
             INSERT INTO receipts VALUES (1, 1, 100)",
        );
        let mut t2 = begin(&database, level);
        // T2 reads the current batch and adds a receipt to it.
        assert_eq!(int(&mut t2, "SELECT batch FROM control WHERE id = 1"), 1);
        ok(&mut t2, "INSERT INTO receipts VALUES (2, 1, 50)");
        // T3 closes batch 1 and commits.
        let mut t3 = begin(&database, level);
        assert_eq!(int(&mut t3, "SELECT batch FROM control WHERE id = 1"), 1);
        assert_eq!(
            finish(&mut t3, &["UPDATE control SET batch = 2 WHERE id = 1"]),
            End::Committed
        );
        // T1, read-only, reports the closed batch through a join.
        let mut t1 = database.session();
        ok(&mut t1, &format!("BEGIN ISOLATION LEVEL {level} READ ONLY"));
        let report = run(
            &mut t1,
            "SELECT sum(r.amount) FROM control c JOIN receipts r ON r.batch = c.batch - 1 \
             WHERE c.id = 1",
        );
        let t1_end = match report {
            Ok(rows) => {
                assert_eq!(rows[0][0].as_i64(), Some(100), "T1 misses T2's receipt");
                finish(&mut t1, &[])
            }
            Err(code) => End::Failed(code),
        };
        let t2_end = finish(&mut t2, &[]);
        if level == "SERIALIZABLE" {
            one_failed(&t1_end, &t2_end);
        } else {
            assert_eq!((t1_end, t2_end), (End::Committed, End::Committed));
        }
    }
}

/// An autocommit query, as the server runs a SELECT whose Sync has
/// arrived: one statement in an implicit scope declared to run queries
/// only, committed at the scope's end. Its rows, or its SQLSTATE.
fn autocommit_query(session: &mut Session, sql: &str) -> Result<Vec<Vec<Value>>, String> {
    session.begin_implicit();
    session.declare_queries_only();
    let rows = run(session, sql);
    let ended = session
        .end_implicit()
        .map_err(|error| error.sqlstate().code().to_string());
    rows.and_then(|rows| ended.map(|()| rows))
}

/// The read-only anomaly again, the report now an autocommit query
/// declared to run queries only. T2 runs beside it, so its snapshot is not
/// safe: SSI must still track it, as a read-only transaction, and one of
/// the two must fail.
#[test]
fn read_only_anomaly_with_an_autocommit_report() {
    let database = database(
        "CREATE TABLE control (id INT PRIMARY KEY, batch INT);
         CREATE TABLE receipts (id INT PRIMARY KEY, batch INT, amount INT);
         INSERT INTO control VALUES (1, 1);
         INSERT INTO receipts VALUES (1, 1, 100)",
    );
    let mut t2 = begin(&database, "SERIALIZABLE");
    assert_eq!(int(&mut t2, "SELECT batch FROM control WHERE id = 1"), 1);
    ok(&mut t2, "INSERT INTO receipts VALUES (2, 1, 50)");
    let mut t3 = begin(&database, "SERIALIZABLE");
    assert_eq!(int(&mut t3, "SELECT batch FROM control WHERE id = 1"), 1);
    assert_eq!(
        finish(&mut t3, &["UPDATE control SET batch = 2 WHERE id = 1"]),
        End::Committed
    );
    let mut t1 = database.session();
    let t1_end = match autocommit_query(
        &mut t1,
        "SELECT sum(r.amount) FROM control c JOIN receipts r ON r.batch = c.batch - 1 \
         WHERE c.id = 1",
    ) {
        Ok(rows) => {
            assert_eq!(rows[0][0].as_i64(), Some(100), "T1 misses T2's receipt");
            End::Committed
        }
        Err(code) => End::Failed(code),
    };
    let t2_end = finish(&mut t2, &[]);
    one_failed(&t1_end, &t2_end);
}

/// What declaring an autocommit query saves: with no read-write
/// transaction running, its snapshot is safe and SSI takes no read lock
/// for it (seen from another session while its implicit transaction is
/// still open); undeclared, the same query holds its locks until the end.
/// A declared scope that turns out to write is refused, never let through
/// untracked.
#[test]
fn a_declared_autocommit_query_under_a_safe_snapshot_takes_no_read_locks() {
    let database = database(
        "CREATE TABLE t (id INT PRIMARY KEY, v INT);
         INSERT INTO t VALUES (1, 10), (2, 20)",
    );
    let mut observer = database.session();
    let read_locks = |observer: &mut Session| -> i64 {
        match &ok(observer, "SHOW basalt.ssi_read_locks")[0][0] {
            Value::Text(text) => text.parse().expect("a count"),
            other => panic!("SHOW gave {other:?}"),
        }
    };
    for declared in [true, false] {
        let mut reader = database.session();
        reader.begin_implicit();
        if declared {
            reader.declare_queries_only();
        }
        assert_eq!(ok(&mut reader, "SELECT v FROM t WHERE id = 1").len(), 1);
        let held = read_locks(&mut observer);
        reader.end_implicit().expect("commit");
        if declared {
            assert_eq!(held, 0, "a safe snapshot takes no read locks");
        } else {
            assert!(held > 0, "an undeclared query is tracked");
        }
    }
    let mut writer = database.session();
    writer.begin_implicit();
    writer.declare_queries_only();
    assert_eq!(
        run(&mut writer, "INSERT INTO t VALUES (3, 30)"),
        Err("XX000".to_string())
    );
    writer.end_implicit().expect("the failed scope ends");
    assert_eq!(int(&mut observer, "SELECT count(*) FROM t"), 2);
}

/// Precision: a join that looks up one key of the inner table locks that
/// key, not the table. T1 reads order 1 and its customer through a key
/// lookup and writes an audit row T2 reads; T2 writes customer 2, which T1
/// never read. If T1 had locked the whole customers table, T1 → T2 (T2
/// wrote what T1 read) and T2 → T1 (T1 wrote what T2 read) would form a
/// cycle and one would abort; with the key locked, both commit.
#[test]
fn a_key_lookup_join_locks_the_key_it_read() {
    let database = database(
        "CREATE TABLE customers (id INT PRIMARY KEY, name TEXT);
         CREATE TABLE orders (id INT PRIMARY KEY, customer INT);
         CREATE TABLE audit (id INT PRIMARY KEY, note TEXT);
         INSERT INTO customers VALUES (1, 'ada'), (2, 'brian');
         INSERT INTO orders VALUES (1, 1), (2, 2);
         INSERT INTO audit VALUES (1, 'none')",
    );
    let join = "SELECT c.name FROM orders o JOIN customers c ON c.id = o.customer WHERE o.id = 1";
    let mut session = database.session();
    let plan: String = ok(&mut session, &format!("EXPLAIN {join}"))
        .iter()
        .map(|row| format!("{:?}\n", row[0]))
        .collect();
    assert!(plan.contains("Key Lookup"), "{plan}");
    let mut t1 = begin(&database, "SERIALIZABLE");
    let mut t2 = begin(&database, "SERIALIZABLE");
    assert_eq!(ok(&mut t1, join), vec![vec![Value::Text("ada".into())]]);
    assert_eq!(ok(&mut t2, "SELECT note FROM audit WHERE id = 1").len(), 1);
    assert_eq!(
        finish(&mut t2, &["UPDATE customers SET name = 'bea' WHERE id = 2"]),
        End::Committed
    );
    assert_eq!(
        finish(
            &mut t1,
            &["UPDATE audit SET note = 'read order 1' WHERE id = 1"]
        ),
        End::Committed
    );
}

/// The quantity of the lines of day one's orders (1 to 1,000, half of
/// them, so the join hashes rather than looking each order's lines up):
/// the orders are the hash table, and the scan of the lines (keyed by
/// order first) reads only the key span of those orders.
const LINES_OF_DAY_ONE: &str = "SELECT sum(l.qty) FROM lines l JOIN orders o ON o.id = l.order_id \
                                WHERE o.day = 1";

fn lines_database() -> Database {
    database(
        "CREATE TABLE orders (id INT PRIMARY KEY, day INT);
         CREATE TABLE lines (order_id INT, line INT, qty INT, PRIMARY KEY (order_id, line));
         CREATE TABLE audit (id INT PRIMARY KEY, note TEXT);
         INSERT INTO orders SELECT g, CASE WHEN g <= 1000 THEN 1 ELSE 2 END
             FROM generate_series(1, 2000) g;
         INSERT INTO lines SELECT g / 2 + 1, g % 2, 1 FROM generate_series(0, 3999) g;
         INSERT INTO audit VALUES (1, 'none');
         ANALYZE",
    )
}

/// T1 reads the lines of day one's orders and writes an audit row T2
/// reads; T2 adds a line to order 1,500, outside the span T1 read. Had T1
/// locked the whole lines table, T1 → T2 → T1 would be a cycle and one
/// would abort; with the span locked, both commit.
#[test]
fn a_narrowed_hash_join_probe_locks_only_its_key_span() {
    let database = lines_database();
    let mut session = database.session();
    let plan: String = ok(&mut session, &format!("EXPLAIN {LINES_OF_DAY_ONE}"))
        .iter()
        .map(|row| format!("{:?}\n", row[0]))
        .collect();
    assert!(
        plan.contains("Hash Join") && plan.contains("Seq Scan on lines"),
        "{plan}"
    );
    let mut t1 = begin(&database, "SERIALIZABLE");
    let mut t2 = begin(&database, "SERIALIZABLE");
    assert_eq!(
        ok(&mut t1, LINES_OF_DAY_ONE),
        vec![vec![Value::BigInt(2000)]]
    );
    assert_eq!(ok(&mut t2, "SELECT note FROM audit WHERE id = 1").len(), 1);
    assert_eq!(
        finish(&mut t2, &["INSERT INTO lines VALUES (1500, 2, 10)"]),
        End::Committed
    );
    assert_eq!(
        finish(&mut t1, &["UPDATE audit SET note = 'day one' WHERE id = 1"]),
        End::Committed
    );
}

/// The same shape where T2 adds a line to order 2, inside the span T1
/// read: the cycle is real and one of them fails.
#[test]
fn a_narrowed_hash_join_probe_conflicts_inside_its_key_span() {
    let database = lines_database();
    let mut t1 = begin(&database, "SERIALIZABLE");
    let mut t2 = begin(&database, "SERIALIZABLE");
    assert_eq!(
        ok(&mut t1, LINES_OF_DAY_ONE),
        vec![vec![Value::BigInt(2000)]]
    );
    assert_eq!(ok(&mut t2, "SELECT note FROM audit WHERE id = 1").len(), 1);
    let t2_end = finish(&mut t2, &["INSERT INTO lines VALUES (2, 2, 10)"]);
    let t1_end = finish(&mut t1, &["UPDATE audit SET note = 'day one' WHERE id = 1"]);
    one_failed(&t1_end, &t2_end);
}

/// The same shape where T2 writes the customer T1 did read: now the cycle
/// is real and one of them fails.
#[test]
fn a_key_lookup_join_conflicts_on_the_key_it_read() {
    let database = database(
        "CREATE TABLE customers (id INT PRIMARY KEY, name TEXT);
         CREATE TABLE orders (id INT PRIMARY KEY, customer INT);
         CREATE TABLE audit (id INT PRIMARY KEY, note TEXT);
         INSERT INTO customers VALUES (1, 'ada'), (2, 'brian');
         INSERT INTO orders VALUES (1, 1), (2, 2);
         INSERT INTO audit VALUES (1, 'none')",
    );
    let join = "SELECT c.name FROM orders o JOIN customers c ON c.id = o.customer WHERE o.id = 1";
    let mut t1 = begin(&database, "SERIALIZABLE");
    let mut t2 = begin(&database, "SERIALIZABLE");
    assert_eq!(ok(&mut t1, join).len(), 1);
    assert_eq!(ok(&mut t2, "SELECT note FROM audit WHERE id = 1").len(), 1);
    let t2_end = finish(&mut t2, &["UPDATE customers SET name = 'bea' WHERE id = 1"]);
    let t1_end = finish(
        &mut t1,
        &["UPDATE audit SET note = 'read order 1' WHERE id = 1"],
    );
    one_failed(&t1_end, &t2_end);
}
