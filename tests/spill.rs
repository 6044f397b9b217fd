//! Operators beyond `work_mem` spill to `<data_dir>/tmp` and clean up.
//!
//! With `SET work_mem = '64kB'` on an on-disk database, over more than 50×
//! work_mem of rows (text alone), each family of memory-hungry operators
//! returns exactly the rows computed here independently, in Rust: ORDER BY
//! (external merge sort), hash aggregation (with DISTINCT and ORDER BY
//! inside aggregates, and ROLLUP), DISTINCT, hash joins of every outer
//! kind, each set operation with and without ALL, window partitions with
//! ROWS, RANGE and GROUPS frames and exclusions, and CTE materialization
//! and recursive work tables. Spill files exist while such a query runs
//! and are gone when it ends, by completion, by error or by closing its
//! portal; `tmp/` is emptied when the database opens.
//!
//! The ignored tests measure peak resident memory at PostgreSQL's default
//! `work_mem` (4 MB) over 50× that much data; run them one per process:
//!
//! ```text
//! cargo test --release --test spill -- --ignored --nocapture peak_sort
//! cargo test --release --test spill -- --ignored --nocapture peak_hash_join
//! cargo test --release --test spill -- --ignored --nocapture peak_hash_aggregate
//! cargo test --release --test spill -- --ignored --nocapture peak_window
//! ```
//!
//! `BASALT_SPILL_WORK_MEM` (default `4MB`) and `BASALT_SPILL_ROWS`
//! (default 1,500,000) change the setting and the size.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use basalt::sql::{Cursor, Outcome, Session, Value};
use basalt::{Config, Database};

fn query(session: &mut Session, sql: &str) -> Vec<Vec<Value>> {
    let mut cursor = open(session, sql);
    session.fetch_all(&mut cursor).expect("fetch")
}

fn open(session: &mut Session, sql: &str) -> Cursor {
    let prepared = session.prepare(sql, &[]).expect("prepare");
    match session.execute(&prepared, &[]).expect("execute") {
        Outcome::Rows { cursor, .. } => cursor,
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

fn int(value: &Value) -> i64 {
    value
        .as_i64()
        .unwrap_or_else(|| panic!("not an integer: {value:?}"))
}

fn optional(value: &Value) -> Option<i64> {
    (!value.is_null()).then(|| int(value))
}

fn text(value: &Value) -> String {
    match value {
        Value::Text(text) => text.to_string(),
        other => panic!("not text: {other:?}"),
    }
}

fn files_in(directory: &Path) -> usize {
    std::fs::read_dir(directory).expect("tmp exists").count()
}

fn explain(session: &mut Session, sql: &str) -> String {
    query(session, &format!("EXPLAIN {sql}"))
        .iter()
        .map(|row| format!("{:?}\n", row[0]))
        .collect()
}

/// A payload of about 120 bytes that differs per row.
const PAYLOAD: &str = "'-spill-test-payload-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-'";

/// The payload of row `g`, as the SQL of [`source`] makes it.
fn payload(g: i64) -> String {
    format!("row {g}{}", PAYLOAD.trim_matches('\''))
}

const WORK_MEM: i64 = 64 * 1024;

/// Rows in the generated relations: their text alone is more than 50×
/// work_mem.
const N: i64 = 30_000;

/// `k` of row `g` in [`source`]: about three rows per value.
fn key(g: i64) -> i64 {
    (g * 7919) % 10007
}

/// `(id, k, payload)` for `g` in 1..=N, `k` as [`key`] makes it.
fn source() -> String {
    generated(N, "(g * 7919) % 10007")
}

/// An on-disk database with work_mem at 64 kB; its `tmp/`.
fn database() -> (tempfile::TempDir, PathBuf, Database, Session) {
    let directory = tempfile::tempdir().expect("tempdir");
    let tmp = directory.path().join("tmp");
    let database = Database::open(&Config::new(directory.path())).expect("open");
    let mut session = database.session();
    let bytes: i64 = (1..=N).map(|g| payload(g).len() as i64).sum();
    assert!(bytes > 50 * WORK_MEM, "{bytes} bytes of text alone");
    run(&mut session, "SET work_mem = '64kB'");
    (directory, tmp, database, session)
}

/// Runs `sql` in a block, reading its first row, then the others 256 at a
/// time; returns them and the most spill files seen between reads.
/// Checks that none is left.
fn observed(session: &mut Session, sql: &str, tmp: &Path) -> (Vec<Vec<Value>>, usize) {
    run(session, "BEGIN");
    let mut cursor = open(session, sql);
    let mut rows = Vec::new();
    let mut most = 0;
    loop {
        let batch_size = if rows.is_empty() { 1 } else { 256 };
        let batch = session.fetch(&mut cursor, batch_size).expect("fetch");
        most = most.max(files_in(tmp));
        if batch.is_empty() {
            break;
        }
        rows.extend(batch);
    }
    drop(cursor);
    run(session, "COMMIT");
    assert_eq!(files_in(tmp), 0, "files left after {sql}");
    (rows, most)
}

/// As [`observed`], asserting that the query spilled.
fn spilled(session: &mut Session, sql: &str, tmp: &Path) -> Vec<Vec<Value>> {
    let (rows, most) = observed(session, sql, tmp);
    assert!(most > 0, "no spill file while running {sql}");
    rows
}

#[test]
fn an_order_by_over_fifty_times_work_mem_sorts_on_disk() {
    let (_directory, tmp, _database, mut session) = database();
    let sql = format!(
        "SELECT k, id, payload FROM {} s ORDER BY k, id DESC",
        source()
    );
    let rows = spilled(&mut session, &sql, &tmp);
    let mut expected: Vec<(i64, i64)> = (1..=N).map(|g| (key(g), -g)).collect();
    expected.sort();
    assert_eq!(rows.len(), expected.len());
    for (row, (k, minus_id)) in rows.iter().zip(expected) {
        assert_eq!((int(&row[0]), -int(&row[1])), (k, minus_id));
        assert_eq!(text(&row[2]), payload(-minus_id));
    }
    // Outside a block too, and again the same.
    assert!(query(&mut session, &sql) == rows);
    assert_eq!(files_in(&tmp), 0);
}

#[test]
fn hash_aggregation_spills_groups_and_pending_inputs() {
    let (_directory, tmp, _database, mut session) = database();
    let source = source();

    // Groups with DISTINCT and ORDER BY inside aggregates.
    let rows = spilled(
        &mut session,
        &format!(
            "SELECT k, count(*), sum(id), min(payload), count(DISTINCT id % 5), \
             string_agg(id::text, ',' ORDER BY id DESC) FROM {source} s GROUP BY k"
        ),
        &tmp,
    );
    let mut groups: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for g in 1..=N {
        groups.entry(key(g)).or_default().push(g);
    }
    let mut rows: Vec<_> = rows.iter().map(|row| (int(&row[0]), row)).collect();
    rows.sort_by_key(|(k, _)| *k);
    assert_eq!(rows.len(), groups.len());
    for ((k, row), (expected_k, ids)) in rows.iter().zip(&groups) {
        assert_eq!(k, expected_k);
        let mut descending = ids.clone();
        descending.sort_by(|a, b| b.cmp(a));
        let fives: BTreeSet<i64> = ids.iter().map(|id| id % 5).collect();
        let smallest = ids.iter().map(|&g| payload(g)).min().expect("a row");
        let joined: Vec<String> = descending.iter().map(i64::to_string).collect();
        assert_eq!(int(&row[1]), ids.len() as i64, "count of {k}");
        assert_eq!(int(&row[2]), ids.iter().sum::<i64>(), "sum of {k}");
        assert_eq!(text(&row[3]), smallest, "min of {k}");
        assert_eq!(int(&row[4]), fives.len() as i64, "count distinct of {k}");
        assert_eq!(text(&row[5]), joined.join(","), "string_agg of {k}");
    }

    // ROLLUP: groups of (m, k), of m, and the total.
    let rollup = format!(
        "SELECT m, k, count(*), sum(id) FROM (SELECT id, k, k % 10 AS m FROM {source} s) t \
         GROUP BY ROLLUP (m, k)"
    );
    let mut expected: BTreeMap<(Option<i64>, Option<i64>), (i64, i64)> = BTreeMap::new();
    for g in 1..=N {
        let (k, m) = (key(g), key(g) % 10);
        for group in [(Some(m), Some(k)), (Some(m), None), (None, None)] {
            let entry = expected.entry(group).or_default();
            entry.0 += 1;
            entry.1 += g;
        }
    }
    let actual: BTreeMap<(Option<i64>, Option<i64>), (i64, i64)> =
        spilled(&mut session, &rollup, &tmp)
            .iter()
            .map(|row| {
                (
                    (optional(&row[0]), optional(&row[1])),
                    (int(&row[2]), int(&row[3])),
                )
            })
            .collect();
    assert_eq!(actual.len(), expected.len(), "each group once");
    assert!(actual == expected, "ROLLUP groups differ");

    // One group whose DISTINCT inputs outgrow memory.
    let rows = spilled(
        &mut session,
        &format!(
            "SELECT count(DISTINCT payload), count(DISTINCT k), count(*), \
             string_agg(DISTINCT (id % 3)::text, '/') FROM {source} s"
        ),
        &tmp,
    );
    let keys: BTreeSet<i64> = (1..=N).map(key).collect();
    assert_eq!(
        rows,
        vec![vec![
            Value::BigInt(N),
            Value::BigInt(keys.len() as i64),
            Value::BigInt(N),
            Value::Text("0/1/2".into()),
        ]]
    );
}

#[test]
fn distinct_keeps_one_of_each_row() {
    let (_directory, tmp, _database, mut session) = database();
    let rows = spilled(
        &mut session,
        &format!("SELECT DISTINCT 'v' || (g % 9000) || {PAYLOAD} FROM generate_series(1, {N}) g"),
        &tmp,
    );
    let mut actual: Vec<String> = rows.iter().map(|row| text(&row[0])).collect();
    actual.sort();
    let expected: BTreeSet<String> = (1..=N)
        .map(|g| format!("v{}{}", g % 9000, PAYLOAD.trim_matches('\'')))
        .collect();
    assert!(actual == expected.into_iter().collect::<Vec<_>>());
}

#[test]
fn hash_joins_of_every_kind_with_a_build_side_of_fifty_times_work_mem() {
    let (_directory, tmp, _database, mut session) = database();
    // a.k: 0..5000, NULL for every 100th row; b.k: 2000..7000 (b's keys
    // below 2000 and a's above 6999 have no partner), NULL every 50th.
    let a_key = |g: i64| (g % 100 != 0).then_some(g % 5000);
    let b_key = |g: i64| (g % 50 != 0).then_some((g * 7) % 5000 + 2000);
    let a = generated(N, "CASE WHEN g % 100 = 0 THEN NULL ELSE g % 5000 END");
    let b = generated(
        N,
        "CASE WHEN g % 50 = 0 THEN NULL ELSE (g * 7) % 5000 + 2000 END",
    );

    // Expected pairs, computed here: (a.id, b.id), NULL as None.
    let mut b_by_key: HashMap<i64, Vec<i64>> = HashMap::new();
    for g in 1..=N {
        if let Some(k) = b_key(g) {
            b_by_key.entry(k).or_default().push(g);
        }
    }
    let mut inner = Vec::new();
    let mut unmatched_a = Vec::new();
    let mut matched_keys = BTreeSet::new();
    for g in 1..=N {
        match a_key(g).and_then(|k| b_by_key.get(&k).map(|ids| (k, ids))) {
            Some((k, ids)) => {
                matched_keys.insert(k);
                inner.extend(ids.iter().map(|&id| (Some(g), Some(id))));
            }
            None => unmatched_a.push((Some(g), None)),
        }
    }
    let unmatched_b: Vec<(Option<i64>, Option<i64>)> = (1..=N)
        .filter(|&g| b_key(g).is_none_or(|k| !matched_keys.contains(&k)))
        .map(|g| (None, Some(g)))
        .collect();
    let sorted = |mut pairs: Vec<(Option<i64>, Option<i64>)>| {
        pairs.sort();
        pairs
    };
    let expected = |parts: &[&Vec<(Option<i64>, Option<i64>)>]| {
        sorted(parts.iter().flat_map(|part| part.iter().copied()).collect())
    };

    let join = |kind: &str| format!("SELECT a.id, b.id FROM {a} a {kind} JOIN {b} b ON a.k = b.k");
    let plan = explain(&mut session, &join("INNER"));
    assert!(plan.contains("Hash Join"), "{plan}");
    for (kind, parts) in [
        ("INNER", vec![&inner]),
        ("LEFT", vec![&inner, &unmatched_a]),
        ("RIGHT", vec![&inner, &unmatched_b]),
        ("FULL", vec![&inner, &unmatched_a, &unmatched_b]),
    ] {
        let rows = spilled(&mut session, &join(kind), &tmp);
        let pairs = sorted(
            rows.iter()
                .map(|row| (optional(&row[0]), optional(&row[1])))
                .collect(),
        );
        assert!(pairs == expected(&parts), "{kind} JOIN rows differ");
    }
    // Semi and anti joins.
    for (negation, expected) in [
        ("", N - unmatched_a.len() as i64),
        ("NOT", unmatched_a.len() as i64),
    ] {
        let sql = format!(
            "SELECT a.id FROM {a} a WHERE {negation} EXISTS (SELECT 1 FROM {b} b WHERE b.k = a.k)"
        );
        let (rows, _) = observed(&mut session, &sql, &tmp);
        assert_eq!(rows.len() as i64, expected, "{negation} EXISTS");
    }
}

#[test]
fn set_operations_with_and_without_all() {
    let (_directory, tmp, _database, mut session) = database();
    // Left: v in 0..8000, three rows each; right: v in 3000..9000, two
    // rows each.
    let value = |v: i64| format!("v{v}{}", PAYLOAD.trim_matches('\''));
    let left_values: Vec<i64> = (1..=24_000).map(|g| g % 8000).collect();
    let right_values: Vec<i64> = (1..=12_000).map(|g| g % 6000 + 3000).collect();
    let left = format!("SELECT 'v' || (g % 8000) || {PAYLOAD} FROM generate_series(1, 24000) g");
    let right =
        format!("SELECT 'v' || (g % 6000 + 3000) || {PAYLOAD} FROM generate_series(1, 12000) g");
    let mut counts: BTreeMap<i64, (usize, usize)> = BTreeMap::new();
    for &v in &left_values {
        counts.entry(v).or_default().0 += 1;
    }
    for &v in &right_values {
        counts.entry(v).or_default().1 += 1;
    }
    for (op, all) in [
        ("UNION", false),
        ("UNION", true),
        ("INTERSECT", false),
        ("INTERSECT", true),
        ("EXCEPT", false),
        ("EXCEPT", true),
    ] {
        let mut expected = Vec::new();
        for (&v, &(l, r)) in &counts {
            let copies = match (op, all) {
                ("UNION", false) => 1,
                ("UNION", true) => l + r,
                ("INTERSECT", false) => usize::from(l > 0 && r > 0),
                ("INTERSECT", true) => l.min(r),
                ("EXCEPT", false) => usize::from(l > 0 && r == 0),
                _ => l.saturating_sub(r),
            };
            expected.extend(std::iter::repeat_n(value(v), copies));
        }
        expected.sort();
        let sql = format!("{left} {op}{} {right}", if all { " ALL" } else { "" });
        let (rows, most) = observed(&mut session, &sql, &tmp);
        // UNION ALL streams both inputs and never holds rows.
        assert_eq!(most > 0, !(op == "UNION" && all), "{sql}: {most} files");
        let mut actual: Vec<String> = rows.iter().map(|row| text(&row[0])).collect();
        actual.sort();
        assert_eq!(actual.len(), expected.len(), "{op} ALL={all}");
        assert!(actual == expected, "{op} ALL={all}: rows differ");
    }
}

#[test]
fn window_partitions_beyond_work_mem_with_frames() {
    let (_directory, tmp, _database, mut session) = database();
    let by_id = "PARTITION BY k % 3 ORDER BY k, id";
    let by_key = "PARTITION BY k % 3 ORDER BY k";
    let sql = format!(
        "SELECT id, \
           row_number() OVER ({by_id}), \
           sum(id) OVER ({by_id} ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING), \
           lag(id, 3) OVER ({by_id}), \
           first_value(id) OVER ({by_id} ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE CURRENT ROW), \
           rank() OVER ({by_key}), \
           sum(id) OVER ({by_key} RANGE BETWEEN 10 PRECEDING AND 10 FOLLOWING), \
           count(*) OVER ({by_key} GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW EXCLUDE TIES), \
           sum(length(payload)) OVER ({by_key}) \
         FROM {} s",
        source()
    );
    let rows = spilled(&mut session, &sql, &tmp);

    // Expected, from the definitions, per partition ordered by (k, id).
    let mut expected: HashMap<i64, Vec<Option<i64>>> = HashMap::new();
    for partition in 0..3 {
        let mut rows: Vec<(i64, i64)> = (1..=N)
            .map(|g| (key(g), g))
            .filter(|(k, _)| k % 3 == partition)
            .collect();
        rows.sort();
        // Per ORDER BY value (peer group): rows, sum of ids, rows before
        // it, and the running sum of payload lengths up to its end.
        let mut peers: BTreeMap<i64, (i64, i64, i64, i64)> = BTreeMap::new();
        for &(k, g) in &rows {
            let entry = peers.entry(k).or_default();
            entry.0 += 1;
            entry.1 += g;
            entry.3 += payload(g).len() as i64;
        }
        let (mut before, mut lengths) = (0, 0);
        for entry in peers.values_mut() {
            entry.2 = before;
            before += entry.0;
            lengths += entry.3;
            entry.3 = lengths;
        }
        for (p, &(k, id)) in rows.iter().enumerate() {
            let near = p.saturating_sub(2)..(p + 3).min(rows.len());
            let first = match p {
                0 => rows.get(1).map(|(_, id)| *id),
                _ => Some(rows[p - 1].1),
            };
            let range: i64 = peers.range(k - 10..=k + 10).map(|(_, peer)| peer.1).sum();
            let previous_group = peers.range(..k).next_back().map_or(0, |(_, peer)| peer.0);
            expected.insert(
                id,
                vec![
                    Some(p as i64 + 1),
                    Some(rows[near].iter().map(|(_, id)| id).sum()),
                    p.checked_sub(3).map(|q| rows[q].1),
                    first,
                    Some(peers[&k].2 + 1),
                    Some(range),
                    Some(previous_group + 1),
                    Some(peers[&k].3),
                ],
            );
        }
    }
    assert_eq!(rows.len() as i64, N);
    for row in &rows {
        let id = int(&row[0]);
        let actual: Vec<Option<i64>> = row[1..].iter().map(optional).collect();
        assert_eq!(actual, expected[&id], "row {id}");
    }
}

#[test]
fn materialized_and_recursive_ctes_spill_their_rows() {
    let (_directory, tmp, _database, mut session) = database();
    let source = source();
    // A materialized CTE read twice.
    let rows = spilled(
        &mut session,
        &format!(
            "WITH c AS MATERIALIZED (SELECT id, payload FROM {source} s) \
             SELECT id, length(payload) FROM c UNION ALL SELECT -id, 0 FROM c"
        ),
        &tmp,
    );
    let lengths: i64 = (1..=N).map(|g| payload(g).len() as i64).sum();
    assert_eq!(rows.len() as i64, 2 * N);
    assert_eq!(rows.iter().map(|row| int(&row[0])).sum::<i64>(), 0);
    assert_eq!(rows.iter().map(|row| int(&row[1])).sum::<i64>(), lengths);

    // Work tables of N rows each round.
    let rows = spilled(
        &mut session,
        &format!(
            "WITH RECURSIVE r(id, d, payload) AS (SELECT id, 0, payload FROM {source} s \
             UNION ALL SELECT id, d + 1, payload FROM r WHERE d < 2) \
             SELECT d, id, length(payload) FROM r"
        ),
        &tmp,
    );
    let mut per_round: BTreeMap<i64, (i64, i64, i64)> = BTreeMap::new();
    for row in &rows {
        let entry = per_round.entry(int(&row[0])).or_default();
        entry.0 += 1;
        entry.1 += int(&row[1]);
        entry.2 += int(&row[2]);
    }
    let round = (N, N * (N + 1) / 2, lengths);
    assert_eq!(
        per_round,
        BTreeMap::from([(0, round), (1, round), (2, round)])
    );
}

#[test]
fn spill_files_go_when_a_query_fails_or_its_portal_closes() {
    let directory = tempfile::tempdir().expect("tempdir");
    let tmp = directory.path().join("tmp");
    std::fs::create_dir_all(tmp.join("stale")).expect("mkdir");
    std::fs::write(tmp.join("spill-1-0"), b"left by a crash").expect("write");
    let database = Database::open(&Config::new(directory.path())).expect("open");
    assert_eq!(files_in(&tmp), 0, "open empties tmp/");
    let mut session = database.session();
    run(&mut session, "SET work_mem = '64kB'");
    let s = source();
    let last = N - 100;

    // A portal closed before its end, for an operator of each family.
    for sql in [
        format!("SELECT * FROM {s} s ORDER BY payload DESC"),
        format!("SELECT k, count(*), min(payload) FROM {s} s GROUP BY k"),
        format!("SELECT a.id, b.payload FROM {s} a JOIN {s} b ON a.k = b.k"),
        format!("SELECT payload FROM {s} s INTERSECT SELECT payload FROM {s} t WHERE id > 10"),
        format!("SELECT id, sum(id) OVER (PARTITION BY k % 3 ORDER BY k) FROM {s} s"),
        format!("WITH c AS MATERIALIZED (SELECT * FROM {s} s) SELECT * FROM c"),
    ] {
        run(&mut session, "BEGIN");
        let mut cursor = open(&mut session, &sql);
        assert_eq!(session.fetch(&mut cursor, 10).expect("fetch").len(), 10);
        assert!(files_in(&tmp) > 0, "{sql} spilled");
        drop(cursor);
        assert_eq!(files_in(&tmp), 0, "closing the portal of {sql}");
        run(&mut session, "COMMIT");
    }

    // Division by zero at one of the last rows, after spilling.
    for sql in [
        format!("SELECT id FROM {s} s ORDER BY payload || (1 / (id - {last}))"),
        format!("SELECT k, sum(1 / (id - {last})) FROM {s} s GROUP BY k"),
        format!("SELECT a.id FROM {s} a JOIN {s} b ON a.k = b.k AND 1 / (a.id - {last}) > 0"),
        format!("SELECT sum(1 / (id - {last})) OVER (PARTITION BY k % 3 ORDER BY k) FROM {s} s"),
    ] {
        run(&mut session, "BEGIN");
        let mut cursor = open(&mut session, &sql);
        let error = session
            .fetch_all(&mut cursor)
            .expect_err("division by zero");
        assert_eq!(error.sqlstate().code(), "22012", "{sql}");
        assert_eq!(files_in(&tmp), 0, "a failed {sql} removed its files");
        drop(cursor);
        run(&mut session, "ROLLBACK");
    }
}

/// `VmHWM` (peak resident set) and `VmRSS` in kB, from /proc/self/status.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Resets `VmHWM` to the current RSS (Linux ≥ 4.0).
fn reset_peak() {
    if let Err(error) = std::fs::write("/proc/self/clear_refs", "5") {
        eprintln!("cannot reset the peak RSS: {error}");
    }
}

fn measured_setting() -> (String, i64) {
    let work_mem = std::env::var("BASALT_SPILL_WORK_MEM").unwrap_or_else(|_| "4MB".into());
    let rows = std::env::var("BASALT_SPILL_ROWS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_500_000);
    (work_mem, rows)
}

/// A generated relation `(id, k, payload)` of `rows` rows of about 140
/// bytes of data each, `k` computed from `g` by `key`. No table: the
/// tests stay fast, and the storage layer's memory stays out of the
/// measurements.
fn generated(rows: i64, key: &str) -> String {
    format!(
        "(SELECT g AS id, {key} AS k, 'row ' || g || {PAYLOAD} AS payload \
         FROM generate_series(1, {rows}) g)"
    )
}

/// A database for a measurement, with `work_mem` set.
fn measured_database() -> (tempfile::TempDir, PathBuf, Database, Session, i64) {
    let (work_mem, rows) = measured_setting();
    let directory = tempfile::tempdir().expect("tempdir");
    let tmp = directory.path().join("tmp");
    let config = Config::new(directory.path()).with_buffer_pool_pages(256);
    let database = Database::open(&config).expect("open");
    let mut session = database.session();
    run(&mut session, &format!("SET work_mem = '{work_mem}'"));
    (directory, tmp, database, session, rows)
}

/// Prints what the measured rows weigh in memory: the payload bytes plus,
/// per row, a Vec of three 32-byte values and its 24-byte header.
fn describe(session: &mut Session, what: &str, source: &str, rows: i64) {
    let (work_mem, _) = measured_setting();
    let text = int(&query(
        session,
        &format!("SELECT sum(length(payload)) FROM {source} s"),
    )[0][0]);
    let estimate = text + rows * (24 + 3 * 32);
    println!(
        "{what}: work_mem {work_mem}; data ≈ {} MB ({} MB of text)",
        estimate >> 20,
        text >> 20
    );
}

/// Runs `sql` in a block, reading its rows 1,024 at a time (as the server
/// does), and reports the peak RSS during it.
fn measure(session: &mut Session, what: &str, sql: &str, tmp: &Path) -> u64 {
    run(session, "BEGIN");
    let (_, before) = memory();
    reset_peak();
    let started = std::time::Instant::now();
    let mut cursor = open(session, sql);
    let mut count = 0u64;
    let mut spill_files = 0;
    loop {
        let rows = session.fetch(&mut cursor, 1024).expect("fetch");
        spill_files = spill_files.max(files_in(tmp));
        if rows.is_empty() {
            break;
        }
        count += rows.len() as u64;
    }
    let (peak, _) = memory();
    drop(cursor);
    run(session, "COMMIT");
    println!(
        "{what}: {count} rows in {:.1} s; RSS before {} MB, peak during {} MB (+{} MB); \
         at most {spill_files} spill files at once",
        started.elapsed().as_secs_f64(),
        before / 1024,
        peak / 1024,
        peak.saturating_sub(before) / 1024
    );
    assert_eq!(files_in(tmp), 0);
    count
}

#[test]
#[ignore = "a measurement: 200 MB of rows; run alone, see the module docs"]
fn peak_sort() {
    let (_directory, tmp, _database, mut session, rows) = measured_database();
    let source = generated(rows, "(g::bigint * 7919) % 1000003");
    describe(&mut session, "sort", &source, rows);
    let sql = format!("SELECT id, k, payload FROM {source} s ORDER BY k, id");
    assert_eq!(measure(&mut session, "sort", &sql, &tmp), rows as u64);
}

#[test]
#[ignore = "a measurement: 200 MB of rows per side; run alone, see the module docs"]
fn peak_hash_join() {
    let (_directory, tmp, _database, mut session, rows) = measured_database();
    let left = generated(rows, "g % 1000003");
    let right = generated(rows, "(g::bigint * 7) % 1000003");
    let sql = format!(
        "SELECT a.id, b.id, a.payload, b.payload FROM {left} a JOIN {right} b ON a.k = b.k"
    );
    let plan = explain(&mut session, &sql);
    assert!(plan.contains("Hash Join"), "{plan}");
    describe(&mut session, "hash join (build side)", &right, rows);
    measure(&mut session, "hash join", &sql, &tmp);
}

#[test]
#[ignore = "a measurement: 200 MB of rows in a million groups; run alone, see the module docs"]
fn peak_hash_aggregate() {
    let (_directory, tmp, _database, mut session, rows) = measured_database();
    let source = generated(rows, "(g::bigint * 7919) % 1000003");
    describe(&mut session, "hash aggregate", &source, rows);
    let sql = format!(
        "SELECT k, count(*), sum(id), min(payload), max(payload) FROM {source} s GROUP BY k"
    );
    let groups = measure(&mut session, "hash aggregate", &sql, &tmp);
    assert_eq!(groups, rows.min(1_000_003) as u64);
}

#[test]
#[ignore = "a measurement: 200 MB of rows in one window partition; run alone, see the module docs"]
fn peak_window() {
    let (_directory, tmp, _database, mut session, rows) = measured_database();
    let source = generated(rows, "(g::bigint * 7919) % 1000003");
    describe(&mut session, "window", &source, rows);
    let sql = format!(
        "SELECT id, payload, sum(id) OVER (ORDER BY k ROWS BETWEEN 5 PRECEDING AND 5 FOLLOWING), \
         rank() OVER (ORDER BY k), lag(payload, 1000) OVER (ORDER BY k) FROM {source} s"
    );
    assert_eq!(measure(&mut session, "window", &sql, &tmp), rows as u64);
}
