//! Simulated crashes under SQL with secondary indexes: a table with a
//! composite index (one column descending), a unique index and an index
//! over a nullable float column takes inserts, updates that move entries
//! between index keys, deletes, rolled-back writes, an index built on the
//! loaded table and an index dropped, all through SQL sessions over the
//! crash-simulating file system. The power goes off at every sync point,
//! at random writes (unsynced writes kept, dropped or torn), and inside
//! recovery.
//!
//! After every recovery: the table holds exactly the acknowledged
//! transactions (plus, whole or not at all, the one in flight), no row is
//! lost or invented; every index agrees with its table
//! (`Database::check_indexes`) and the set of indexes is the acknowledged
//! DDL's; reads through each index return the model's rows; and a `VACUUM`
//! changes none of that.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

mod common;
mod sessions;

use basalt::storage::vfs::SimulatedFileSystem;
use basalt::storage::{BTreeEngine, Engine};
use basalt::{Config, Database};
use common::SplitMix;
use sessions::{ok, run};

const IDS: u64 = 40;
const OWNERS: u64 = 5;
const DATA_DIR: &str = "/sim/data";

/// A row's columns besides its key: owner, label (unique), score.
#[derive(Clone, Debug, PartialEq)]
struct Item {
    owner: i64,
    label: String,
    score: Option<f64>,
}

/// The committed state: id → row.
type Model = BTreeMap<i64, Item>;

/// One acknowledged unit of work.
#[derive(Clone, Debug)]
enum Step {
    /// A transaction: rows to write (`Some`) or delete (`None`).
    Write(Vec<(i64, Option<Item>)>),
    /// A DDL statement, committed on its own, and the index count after it.
    Ddl(&'static str, u64),
}

const SCHEMA: [&str; 5] = [
    "CREATE TABLE items (id int PRIMARY KEY, owner int NOT NULL, label text, score float8)",
    "CREATE INDEX items_owner ON items (owner, score DESC)",
    "CREATE UNIQUE INDEX items_label ON items (label)",
    "CREATE INDEX items_score ON items (score NULLS FIRST)",
    // An expression key, an INCLUDE column and a predicate: the entries a
    // row has come and go with its score.
    "CREATE INDEX items_scored_upper ON items (upper(label)) INCLUDE (owner) WHERE score IS NOT NULL",
];
const INITIAL_INDEXES: u64 = 4;

fn config() -> Config {
    let mut config = Config::new(DATA_DIR)
        .with_buffer_pool_pages(32)
        .with_wal_segment_size(256 * 1024)
        .with_max_wal_size(96 * 1024)
        .with_checkpoint_interval(Duration::from_millis(20));
    config.wal_writer_delay = Duration::from_millis(2);
    config
}

/// The steps of a workload, made up front from `seed`; every one succeeds
/// when nothing crashes.
fn workload(seed: u64, transactions: usize) -> Vec<Step> {
    let mut random = SplitMix(seed);
    let mut model = Model::new();
    let mut steps = Vec::new();
    for number in 1..=transactions {
        if number == transactions / 3 {
            steps.push(Step::Ddl(
                "CREATE INDEX items_owner_label ON items (owner, label DESC)",
                INITIAL_INDEXES + 1,
            ));
        }
        if number == 2 * transactions / 3 {
            steps.push(Step::Ddl("DROP INDEX items_score", INITIAL_INDEXES));
        }
        let mut writes = Vec::new();
        for _ in 0..2 + random.below(4) {
            let id = random.below(IDS) as i64;
            if writes.iter().any(|(written, _)| *written == id) {
                continue;
            }
            if model.contains_key(&id) && random.below(5) == 0 {
                writes.push((id, None));
                continue;
            }
            let score = match random.below(4) {
                0 => None,
                _ => Some(random.below(1000) as f64 / 8.0 - 40.0),
            };
            // Long labels now and then, so index entries split pages.
            let mut label = format!("t{number}-{id}");
            if random.below(6) == 0 {
                label.push_str(&"x".repeat(300));
            }
            writes.push((
                id,
                Some(Item {
                    owner: random.below(OWNERS) as i64,
                    label,
                    score,
                }),
            ));
        }
        apply(&mut model, &writes);
        steps.push(Step::Write(writes));
    }
    steps
}

fn apply(model: &mut Model, writes: &[(i64, Option<Item>)]) {
    for (id, item) in writes {
        match item {
            Some(item) => model.insert(*id, item.clone()),
            None => model.remove(id),
        };
    }
}

fn literal(score: Option<f64>) -> String {
    score.map_or("NULL".to_string(), |score| format!("{score:?}"))
}

/// The statements of one write transaction, given the rows present before.
fn statements(before: &Model, writes: &[(i64, Option<Item>)]) -> Vec<String> {
    writes
        .iter()
        .map(|(id, item)| match (item, before.contains_key(id)) {
            (None, _) => format!("DELETE FROM items WHERE id = {id}"),
            (Some(item), true) => format!(
                "UPDATE items SET owner = {}, label = '{}', score = {} WHERE id = {id}",
                item.owner,
                item.label,
                literal(item.score)
            ),
            (Some(item), false) => format!(
                "INSERT INTO items VALUES ({id}, {}, '{}', {})",
                item.owner,
                item.label,
                literal(item.score)
            ),
        })
        .collect()
}

struct Opened {
    engine: Arc<BTreeEngine>,
    database: Database,
}

fn open(fs: &SimulatedFileSystem) -> basalt::Result<Opened> {
    let engine = Arc::new(BTreeEngine::open_with(&config(), Arc::new(fs.clone()))?);
    let database = Database::with_engine(Arc::clone(&engine) as Arc<dyn Engine>)?;
    Ok(Opened { engine, database })
}

/// How far a run got before the power went off.
struct Outcome {
    acknowledged: usize,
    /// The step whose commit was under way (it may or may not count).
    in_flight: Option<usize>,
}

/// Runs the steps until they end or the power goes off; `None` if the
/// power went off before the schema was in place.
fn run_steps(fs: &SimulatedFileSystem, steps: &[Step]) -> Option<Outcome> {
    let outcome = (|| {
        let opened = open(fs).ok()?;
        let mut session = opened.database.session();
        for sql in SCHEMA {
            run(&mut session, sql).ok()?;
        }
        let mut outcome = Outcome {
            acknowledged: 0,
            in_flight: None,
        };
        let mut model = Model::new();
        for (index, step) in steps.iter().enumerate() {
            outcome.in_flight = Some(index);
            let done = match step {
                Step::Ddl(sql, _) => run(&mut session, sql).is_ok(),
                Step::Write(writes) => {
                    if index % 5 == 2 {
                        // Written and rolled back: its entries must vanish.
                        let _ = run(&mut session, "BEGIN");
                        for sql in statements(&model, writes) {
                            let _ = run(&mut session, &sql);
                        }
                        let _ = run(&mut session, "ROLLBACK");
                    }
                    let mut done = run(&mut session, "BEGIN").is_ok();
                    for sql in statements(&model, writes) {
                        done = done && run(&mut session, &sql).is_ok();
                    }
                    // A failed statement leaves the block aborted; COMMIT
                    // then rolls back, which is not an acknowledgement.
                    done && run(&mut session, "COMMIT").is_ok() && {
                        apply(&mut model, writes);
                        true
                    }
                }
            };
            if !done {
                break;
            }
            outcome.acknowledged = index + 1;
            outcome.in_flight = None;
            // Crash points inside collection and checkpoints, deterministically.
            if index % 7 == 6
                && (run(&mut session, "VACUUM").is_err() || opened.engine.checkpoint().is_err())
            {
                break;
            }
        }
        Some(outcome)
    })();
    if !fs.is_powered_off() {
        fs.power_off();
    }
    outcome
}

/// The model and index count after the first `count` steps.
fn expected(steps: &[Step], count: usize) -> (Model, u64) {
    let mut model = Model::new();
    let mut indexes = INITIAL_INDEXES;
    for step in &steps[..count] {
        match step {
            Step::Write(writes) => apply(&mut model, writes),
            Step::Ddl(_, after) => indexes = *after,
        }
    }
    (model, indexes)
}

fn read_items(database: &Database, label: &str) -> Model {
    let mut session = database.session();
    let rows = run(
        &mut session,
        "SELECT id, owner, label, score FROM items ORDER BY id",
    )
    .unwrap_or_else(|code| panic!("{label}: reading the table failed with {code}"));
    rows.iter()
        .map(|row| {
            (
                row[0].as_i64().expect("id"),
                Item {
                    owner: row[1].as_i64().expect("owner"),
                    label: match &row[2] {
                        basalt::sql::Value::Text(text) => text.to_string(),
                        other => panic!("{label}: label {other:?}"),
                    },
                    score: row[3].as_f64(),
                },
            )
        })
        .collect()
}

/// Reads through each index agree with the model.
fn check_index_reads(database: &Database, model: &Model, label: &str) {
    let mut session = database.session();
    let ids = |rows: Vec<Vec<basalt::sql::Value>>| -> Vec<i64> {
        rows.iter()
            .map(|row| row[0].as_i64().expect("id"))
            .collect()
    };
    for owner in 0..OWNERS as i64 {
        let found = ids(ok(
            &mut session,
            &format!("SELECT id FROM items WHERE owner = {owner} ORDER BY score DESC, id"),
        ));
        let mut rows: Vec<(&i64, &Item)> = model
            .iter()
            .filter(|(_, item)| item.owner == owner)
            .collect();
        // DESC puts NULLs first, as in PostgreSQL.
        rows.sort_by(|a, b| {
            let key = |score: Option<f64>| score.map_or(f64::INFINITY, |score| score);
            key(b.1.score).total_cmp(&key(a.1.score)).then(a.0.cmp(b.0))
        });
        let wanted: Vec<i64> = rows.iter().map(|(id, _)| **id).collect();
        assert_eq!(found, wanted, "{label}: owner {owner} through its index");
    }
    for (id, item) in model.iter().take(8) {
        let found = ids(ok(
            &mut session,
            &format!("SELECT id FROM items WHERE label = '{}'", item.label),
        ));
        assert_eq!(
            found,
            vec![*id],
            "{label}: label of {id} through the unique index"
        );
    }
    for (id, item) in model.iter().take(8) {
        let found = ok(
            &mut session,
            &format!(
                "SELECT owner FROM items WHERE upper(label) = upper('{}') AND score IS NOT NULL",
                item.label
            ),
        );
        let wanted: Vec<Vec<basalt::sql::Value>> = match item.score {
            Some(_) => vec![vec![basalt::sql::Value::Integer(item.owner as i32)]],
            None => Vec::new(),
        };
        assert_eq!(
            found, wanted,
            "{label}: {id} through the partial expression index"
        );
    }
    let found = ok(&mut session, "SELECT count(*) FROM items WHERE score >= 0")[0][0]
        .as_i64()
        .expect("count");
    let wanted = model
        .values()
        .filter(|item| item.score.is_some_and(|score| score >= 0.0))
        .count() as i64;
    assert_eq!(found, wanted, "{label}: score range");
}

/// Recovers and checks rows, indexes and index reads against the model.
fn verify(fs: &SimulatedFileSystem, steps: &[Step], outcome: &Outcome, label: &str) {
    let opened = open(fs).unwrap_or_else(|error| panic!("{label}: recovery failed: {error}"));
    let database = &opened.database;
    let found = read_items(database, label);
    let (mut model, mut indexes) = expected(steps, outcome.acknowledged);
    if found != model
        && let Some(index) = outcome.in_flight
    {
        (model, indexes) = expected(steps, index + 1);
    }
    if found != model {
        let (acknowledged, _) = expected(steps, outcome.acknowledged);
        let differing: Vec<i64> = (0..IDS as i64)
            .filter(|id| found.get(id) != acknowledged.get(id))
            .collect();
        panic!(
            "{label}: after {} acknowledged steps (in flight: {:?}) ids {differing:?} differ",
            outcome.acknowledged, outcome.in_flight
        );
    }
    let check = database
        .check_indexes()
        .unwrap_or_else(|error| panic!("{label}: an index disagrees with its table: {error}"));
    // An in-flight DDL statement may have committed without the row
    // changes telling: accept either index count then.
    let in_flight_ddl = outcome.in_flight.and_then(|index| match &steps[index] {
        Step::Ddl(_, after) => Some(*after),
        Step::Write(_) => None,
    });
    assert!(
        check.indexes == indexes || Some(check.indexes) == in_flight_ddl,
        "{label}: {} indexes after recovery, expected {indexes}",
        check.indexes
    );
    check_index_reads(database, &model, label);
    let mut session = database.session();
    ok(&mut session, "VACUUM");
    assert_eq!(
        read_items(database, label),
        model,
        "{label}: a vacuum after recovery changed what reads see"
    );
    database
        .check_indexes()
        .unwrap_or_else(|error| panic!("{label}: after vacuum: {error}"));
}

fn dry_run(seed: u64, steps: &[Step]) -> (u64, u64) {
    let fs = SimulatedFileSystem::new(seed);
    let outcome = run_steps(&fs, steps).expect("a run without crashes opens");
    assert_eq!(outcome.acknowledged, steps.len(), "every step succeeds");
    fs.power_on();
    verify(&fs, steps, &outcome, "no crash");
    (fs.sync_count(), fs.write_count())
}

#[test]
fn power_loss_at_every_sync_keeps_tables_and_indexes_agreeing() {
    let steps = workload(41, 60);
    let (syncs, _) = dry_run(41, &steps);
    assert!(syncs > 60, "each commit syncs: {syncs}");
    let mut crashes = 0;
    for ordinal in 1..=syncs + 2 {
        let fs = SimulatedFileSystem::new(2000 + ordinal);
        fs.power_off_at_sync(ordinal);
        let Some(outcome) = run_steps(&fs, &steps) else {
            fs.power_on();
            continue;
        };
        fs.power_on();
        crashes += 1;
        verify(&fs, &steps, &outcome, &format!("sync {ordinal}"));
    }
    assert!(crashes >= 60, "{crashes} crash points");
}

#[test]
fn power_loss_at_random_writes_with_torn_index_pages() {
    let steps = workload(43, 60);
    let (_, writes) = dry_run(43, &steps);
    let mut random = SplitMix(17);
    let mut torn = 0;
    for round in 0..120u64 {
        let fs = SimulatedFileSystem::new(6000 + round);
        fs.power_off_at_write(1 + random.below(writes));
        let Some(outcome) = run_steps(&fs, &steps) else {
            fs.power_on();
            continue;
        };
        torn += fs.torn_write_count();
        fs.power_on();
        verify(&fs, &steps, &outcome, &format!("round {round}"));
    }
    assert!(torn > 0, "some crash must have torn a write");
}

#[test]
fn power_loss_during_recovery_with_indexes_is_harmless() {
    let steps = workload(47, 45);
    let mut random = SplitMix(5);
    for round in 0..30u64 {
        let fs = SimulatedFileSystem::new(9500 + round);
        fs.power_off_at_sync(10 + random.below(80));
        let Some(outcome) = run_steps(&fs, &steps) else {
            continue;
        };
        fs.power_on();
        fs.power_off_at_write(fs.write_count() + 1 + random.below(8));
        if let Ok(opened) = open(&fs) {
            drop(opened);
        }
        if !fs.is_powered_off() {
            fs.power_off();
        }
        fs.power_on();
        verify(&fs, &steps, &outcome, &format!("round {round}"));
    }
}
