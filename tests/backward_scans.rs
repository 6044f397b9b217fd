//! Backward scans of the primary key: `ORDER BY` the key descending reads
//! the table's key backward, with no sort (`optimizer/ordered_scan.rs`).
//! Whatever the rows' history, a backward read returns exactly the rows
//! of the forward read reversed, and under a LIMIT the first of those.
//!
//! Each case builds two tables from random rows (one keyed by a pair of
//! columns, one by a single column), lets one transaction commit random
//! changes after a REPEATABLE READ reader took its snapshot and another
//! make changes it has not committed, so keys have several versions that
//! each session sees differently. Then, in all three sessions and a fresh
//! one, it compares each shape of key access read both ways.

mod sessions;

use basalt::Database;
use basalt::sql::{Session, Value};
use proptest::prelude::*;
use sessions::{begin, database, ok};

/// The key columns' values: `a` in 0..A, `b` in 0..B; the single-column
/// table's key is `a * 10 + b`.
const A: i32 = 5;
const B: i32 = 6;

#[derive(Clone, Debug)]
enum Change {
    Update(i32, i32),
    Delete(i32, i32),
    Insert(i32, i32),
}

fn key() -> impl Strategy<Value = (i32, i32)> {
    (0..A, 0..B)
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        key().prop_map(|(a, b)| Change::Update(a, b)),
        key().prop_map(|(a, b)| Change::Delete(a, b)),
        key().prop_map(|(a, b)| Change::Insert(a, b)),
    ]
}

/// Applies `change` to both tables in `session`.
fn apply(session: &mut Session, change: &Change) {
    let statements = match *change {
        Change::Update(a, b) => [
            format!("UPDATE pairs SET v = v + 1 WHERE a = {a} AND b = {b}"),
            format!("UPDATE singles SET v = v + 1 WHERE id = {}", a * 10 + b),
        ],
        Change::Delete(a, b) => [
            format!("DELETE FROM pairs WHERE a = {a} AND b = {b}"),
            format!("DELETE FROM singles WHERE id = {}", a * 10 + b),
        ],
        Change::Insert(a, b) => [
            format!(
                "INSERT INTO pairs SELECT {a}, {b}, 100 \
                 WHERE NOT EXISTS (SELECT 1 FROM pairs WHERE a = {a} AND b = {b})"
            ),
            format!(
                "INSERT INTO singles SELECT {id}, 100 \
                 WHERE NOT EXISTS (SELECT 1 FROM singles WHERE id = {id})",
                id = a * 10 + b
            ),
        ],
    };
    for sql in statements {
        ok(session, &sql);
    }
}

/// The tables with the rows `keys` (duplicates once).
fn tables(keys: &[(i32, i32)]) -> Database {
    let database = database(
        "CREATE TABLE pairs (a int, b int, v int, PRIMARY KEY (a, b));
         CREATE TABLE singles (id int PRIMARY KEY, v int)",
    );
    let mut session = database.session();
    for &(a, b) in keys {
        apply(&mut session, &Change::Insert(a, b));
    }
    database
}

/// Each query shape: the query without its ORDER BY, and the ORDER BY
/// keys (each gets ` DESC` for the backward read).
fn shapes(k: i32, l: i32, lo: i32, hi: i32) -> Vec<(String, Vec<&'static str>)> {
    let pairs = |filter: String| {
        (
            format!("SELECT a, b, v FROM pairs {filter}"),
            vec!["a", "b"],
        )
    };
    let singles = |filter: String| (format!("SELECT id, v FROM singles {filter}"), vec!["id"]);
    vec![
        pairs(String::new()),
        pairs(format!("WHERE a = {k}")),
        pairs(format!("WHERE a IN ({k}, {l})")),
        pairs(format!("WHERE a = {k} AND b IN ({lo}, {l}, {hi})")),
        pairs("WHERE v % 2 = 0".into()),
        singles(String::new()),
        singles(format!("WHERE id > {lo}")),
        singles(format!("WHERE id >= {lo} AND id < {hi}")),
        singles(format!("WHERE id IN ({k}, {lo}, {hi}, {l})")),
    ]
}

/// `query` ordered by `keys`, forward or backward, with an optional limit.
fn ordered(query: &str, keys: &[&str], backward: bool, limit: Option<usize>) -> String {
    let direction = if backward { " DESC" } else { "" };
    let keys: Vec<String> = keys.iter().map(|key| format!("{key}{direction}")).collect();
    let limit = limit.map_or(String::new(), |n| format!(" LIMIT {n}"));
    format!("{query} ORDER BY {}{limit}", keys.join(", "))
}

/// Checks every shape in `session`: the backward read is the forward read
/// reversed, and so is its LIMIT'ed read and the key's `max`.
fn check(session: &mut Session, shapes: &[(String, Vec<&'static str>)], limit: usize) {
    for (query, keys) in shapes {
        let mut forward = ok(session, &ordered(query, keys, false, None));
        forward.reverse();
        let backward = ok(session, &ordered(query, keys, true, None));
        assert_eq!(backward, forward, "{query}");
        let limited = ok(session, &ordered(query, keys, true, Some(limit)));
        let first: Vec<Vec<Value>> = forward.iter().take(limit).cloned().collect();
        assert_eq!(limited, first, "{query} LIMIT {limit}");
        // The last key column's largest value (rows in key order under a
        // fixed prefix, or of a single-column key).
        if query.contains("singles") || query.contains("a = ") {
            let column = keys[keys.len() - 1];
            let max = query.replacen(
                &format!(
                    "SELECT {}",
                    if keys.len() == 1 { "id, v" } else { "a, b, v" }
                ),
                &format!("SELECT max({column})"),
                1,
            );
            let expected = forward
                .first()
                .map_or(Value::Null, |row| row[keys.len() - 1].clone());
            assert_eq!(ok(session, &max), vec![vec![expected]], "{max}");
        }
    }
}

proptest! {
    // PROPTEST_CASES overrides the default count for a longer hunt.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(24),
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_backward_key_read_is_the_forward_read_reversed(
        initial in prop::collection::vec(key(), 0..30),
        committed in prop::collection::vec(change(), 0..20),
        uncommitted in prop::collection::vec(change(), 0..20),
        (k, l) in (0..A, 0..A),
        (lo, hi) in (0..A * 10, 0..A * 10),
        limit in 1usize..6,
    ) {
        let database = tables(&initial);
        let shapes = shapes(k, l, lo, hi);
        let mut reader = begin(&database, "REPEATABLE READ");
        ok(&mut reader, "SELECT count(*) FROM pairs");
        let mut writer = begin(&database, "READ COMMITTED");
        for change in &committed {
            apply(&mut writer, change);
        }
        ok(&mut writer, "COMMIT");
        let mut open = begin(&database, "READ COMMITTED");
        for change in &uncommitted {
            apply(&mut open, change);
        }
        for session in [&mut reader, &mut open, &mut database.session()] {
            check(session, &shapes, limit);
        }
    }
}

/// The shapes above do read backward, with no sort: otherwise the property
/// would compare a sort with itself.
#[test]
fn the_descending_shapes_read_the_key_backward() {
    let database = tables(&[(1, 2), (3, 4)]);
    let mut session = database.session();
    for (query, keys) in shapes(1, 3, 12, 30) {
        let sql = format!("EXPLAIN {}", ordered(&query, &keys, true, None));
        let plan = format!("{:?}", ok(&mut session, &sql));
        assert!(
            plan.contains("Backward") && !plan.contains("Sort"),
            "{sql}: {plan}"
        );
    }
}
