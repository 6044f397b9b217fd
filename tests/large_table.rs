//! 100,000 rows through SQL on the on-disk engine with a 64-page buffer pool:
//! count, range query and primary-key lookup are correct, and everything is
//! still there after a clean shutdown and reopen.

use basalt::Config;
use basalt::Database;
use basalt::sql::{Outcome, Session, Value};

fn query(session: &mut Session, sql: &str) -> Vec<Vec<Value>> {
    let prepared = session.prepare(sql, &[]).expect("prepare");
    match session.execute(&prepared, &[]).expect("execute") {
        Outcome::Rows { mut cursor, .. } => session.fetch_all(&mut cursor).expect("fetch"),
        other => panic!("expected rows, got {other:?}"),
    }
}

fn run(session: &mut Session, sql: &str) -> String {
    let prepared = session.prepare(sql, &[]).expect("prepare");
    match session.execute(&prepared, &[]).expect("execute") {
        Outcome::Command { tag, .. } => tag,
        other => panic!("expected a command, got {other:?}"),
    }
}

fn check(session: &mut Session) {
    assert_eq!(
        query(session, "SELECT count(*) FROM big"),
        vec![vec![Value::BigInt(100_000)]]
    );
    let range = query(
        session,
        "SELECT id, payload FROM big WHERE id >= 40000 AND id < 40100 ORDER BY id",
    );
    assert_eq!(range.len(), 100);
    assert_eq!(range[0][0], Value::Integer(40000));
    assert_eq!(
        range[99][1],
        Value::Text(format!("row-{}-{}", 40099, "x".repeat(40099 % 50)).into())
    );
    let lookup = query(session, "SELECT payload, amount FROM big WHERE id = 77777");
    assert_eq!(
        lookup,
        vec![vec![
            Value::Text(format!("row-77777-{}", "x".repeat(77777 % 50)).into()),
            Value::BigInt(77777 * 3)
        ]]
    );
    let sum = query(
        session,
        "SELECT sum(amount) FROM big WHERE id BETWEEN 1 AND 1000",
    );
    assert_eq!(
        sum,
        vec![vec![Value::BigInt((1..=1000i64).map(|i| i * 3).sum())]]
    );
    let plan = query(session, "EXPLAIN SELECT payload FROM big WHERE id = 5");
    assert!(
        plan.iter()
            .any(|row| matches!(&row[0], Value::Text(line) if line.contains("Key Lookup"))),
        "{plan:?}"
    );
}

#[test]
fn hundred_thousand_rows_with_a_64_page_pool() {
    let directory = tempfile::tempdir().expect("tempdir");
    let config = Config::new(directory.path()).with_buffer_pool_pages(64);
    {
        let database = Database::open(&config).expect("open");
        let mut session = database.session();
        run(
            &mut session,
            "CREATE TABLE big (id integer PRIMARY KEY, payload text, amount bigint)",
        );
        for batch in 0..100 {
            let values: Vec<String> = (batch * 1000 + 1..=batch * 1000 + 1000)
                .map(|i| format!("({i}, 'row-{i}-{}', {})", "x".repeat(i % 50), i * 3))
                .collect();
            let tag = run(
                &mut session,
                &format!("INSERT INTO big VALUES {}", values.join(", ")),
            );
            assert_eq!(tag, "INSERT 0 1000");
        }
        check(&mut session);
        database.shutdown().expect("shutdown");
    }
    let database = Database::open(&config).expect("reopen");
    let mut session = database.session();
    check(&mut session);
}
