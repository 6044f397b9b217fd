//! Simulated crashes with sequences: a table with a `bigserial` key takes
//! committed and rolled-back inserts, `TRUNCATE` with and without `RESTART
//! IDENTITY`, and a free-standing sequence hands out values in autocommit
//! `SELECT nextval(…)` calls and is restarted and set with `setval`, all
//! through SQL sessions over the crash-simulating file system. The power
//! goes off at every sync point and at random writes.
//!
//! After every recovery:
//! - the table holds exactly the acknowledged transactions' rows (plus,
//!   whole or not at all, the one in flight): nothing committed is lost;
//! - no value is handed out twice: the next `nextval` of each sequence is
//!   past every value any session saw since the sequence last restarted
//!   (an in-flight restart may or may not have committed; then its value
//!   is also accepted), and a new row's serial key collides with nothing.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

mod common;
mod sessions;

use basalt::sql::Session;
use basalt::storage::vfs::SimulatedFileSystem;
use basalt::storage::{BTreeEngine, Engine};
use basalt::{Config, Database};
use common::SplitMix;
use sessions::{ok, run};

const DATA_DIR: &str = "/sim/data";

const SCHEMA: [&str; 2] = [
    "CREATE TABLE items (id bigserial PRIMARY KEY, note int NOT NULL)",
    "CREATE SEQUENCE tickets INCREMENT BY 3 START 10",
];

/// One unit of work, each acknowledged on its own.
#[derive(Clone, Debug)]
enum Step {
    /// Inserts `n` rows in a transaction that commits.
    Insert(u64),
    /// Inserts `n` rows in a transaction that rolls back.
    Abandon(u64),
    /// `SELECT nextval('tickets')` in autocommit.
    Ticket,
    /// `TRUNCATE items`, keeping the sequence.
    Truncate,
    /// `TRUNCATE items RESTART IDENTITY`.
    TruncateRestart,
    /// `ALTER SEQUENCE tickets RESTART WITH n`.
    RestartTickets(i64),
    /// `SELECT setval('tickets', n)`: not transactional.
    SetTickets(i64),
}

fn config() -> Config {
    let mut config = Config::new(DATA_DIR)
        .with_buffer_pool_pages(32)
        .with_wal_segment_size(256 * 1024)
        .with_max_wal_size(96 * 1024)
        .with_checkpoint_interval(Duration::from_millis(20));
    config.wal_writer_delay = Duration::from_millis(2);
    config
}

fn workload(seed: u64, count: usize) -> Vec<Step> {
    let mut random = SplitMix(seed);
    let mut restarts = 0;
    (0..count)
        .map(|_| match random.below(20) {
            0..=6 => Step::Insert(1 + random.below(4)),
            7..=8 => Step::Abandon(1 + random.below(3)),
            9..=14 => Step::Ticket,
            15 => Step::Truncate,
            16 => Step::TruncateRestart,
            17 | 18 => {
                restarts += 1;
                Step::RestartTickets(restarts * 100_000)
            }
            _ => {
                restarts += 1;
                Step::SetTickets(restarts * 100_000 + 7)
            }
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

/// What a sequence may hand out next after a recovery.
#[derive(Clone, Debug, Default)]
struct Floor {
    /// Every value seen since the last acknowledged restart lies at or
    /// below this (`None`: none seen).
    seen: Option<i64>,
    /// The next value right after the last acknowledged restart or
    /// setval, if nothing was seen since (`None` before any).
    restarted_at: Option<i64>,
    /// An in-flight restart's value: accepted as the next value too.
    in_flight_restart: Option<i64>,
}

impl Floor {
    fn saw(&mut self, value: i64) {
        self.seen = Some(self.seen.map_or(value, |seen| seen.max(value)));
    }

    fn restart(&mut self, next: i64) {
        self.seen = None;
        self.restarted_at = Some(next);
    }

    fn check(&self, next: i64, label: &str) {
        if self.in_flight_restart == Some(next) {
            return;
        }
        match (self.seen, self.restarted_at) {
            (Some(seen), _) => assert!(next > seen, "{label}: {next} handed out again ({self:?})"),
            (None, Some(at)) => {
                assert!(next >= at, "{label}: {next} before the restart ({self:?})")
            }
            (None, None) => {}
        }
    }
}

/// How far a run got, and what it saw.
struct Outcome {
    acknowledged: usize,
    in_flight: Option<usize>,
    ids: Floor,
    tickets: Floor,
}

fn first_value(rows: &[Vec<basalt::sql::Value>]) -> Option<i64> {
    rows.first()?.first()?.as_i64()
}

/// Inserts `count` rows in an open block; returns the last id handed out.
fn insert_rows(session: &mut Session, count: u64, note: usize) -> Option<i64> {
    let sql = format!("INSERT INTO items (note) SELECT {note} FROM generate_series(1, {count})");
    run(session, &sql).ok()?;
    first_value(&run(session, "SELECT currval('items_id_seq')").ok()?)
}

fn run_steps(fs: &SimulatedFileSystem, steps: &[Step]) -> Option<Outcome> {
    let mut outcome = Outcome {
        acknowledged: 0,
        in_flight: None,
        ids: Floor::default(),
        tickets: Floor::default(),
    };
    let completed = (|| {
        let opened = open(fs).ok()?;
        let mut session = opened.database.session();
        for sql in SCHEMA {
            run(&mut session, sql).ok()?;
        }
        outcome.tickets.restart(10);
        outcome.ids.restart(1);
        for (index, step) in steps.iter().enumerate() {
            outcome.in_flight = Some(index);
            let done = match step {
                Step::Insert(count) | Step::Abandon(count) => {
                    run(&mut session, "BEGIN").ok()?;
                    let last = insert_rows(&mut session, *count, index);
                    if let Some(last) = last {
                        outcome.ids.saw(last);
                    }
                    let end = if matches!(step, Step::Insert(_)) {
                        "COMMIT"
                    } else {
                        "ROLLBACK"
                    };
                    last.is_some() && run(&mut session, end).is_ok()
                }
                Step::Ticket => match run(&mut session, "SELECT nextval('tickets')") {
                    Ok(rows) => {
                        outcome.tickets.saw(first_value(&rows)?);
                        true
                    }
                    Err(_) => false,
                },
                Step::Truncate => run(&mut session, "TRUNCATE items").is_ok(),
                Step::TruncateRestart => {
                    outcome.ids.in_flight_restart = Some(1);
                    let done = run(&mut session, "TRUNCATE items RESTART IDENTITY").is_ok();
                    if done {
                        outcome.ids.restart(1);
                    }
                    done
                }
                Step::RestartTickets(at) => {
                    outcome.tickets.in_flight_restart = Some(*at);
                    let sql = format!("ALTER SEQUENCE tickets RESTART WITH {at}");
                    let done = run(&mut session, &sql).is_ok();
                    if done {
                        outcome.tickets.restart(*at);
                    }
                    done
                }
                Step::SetTickets(at) => {
                    // setval is durable once it returns; the next value
                    // follows it.
                    outcome.tickets.in_flight_restart = Some(*at + 3);
                    let sql = format!("SELECT setval('tickets', {at})");
                    let done = run(&mut session, &sql).is_ok();
                    if done {
                        outcome.tickets.restart(*at + 3);
                    }
                    done
                }
            };
            if !done {
                return None;
            }
            outcome.ids.in_flight_restart = None;
            outcome.tickets.in_flight_restart = None;
            outcome.acknowledged = index + 1;
            outcome.in_flight = None;
            if index % 9 == 8 && opened.engine.checkpoint().is_err() {
                return None;
            }
        }
        Some(())
    })();
    if !fs.is_powered_off() {
        fs.power_off();
    }
    if completed.is_none() && outcome.acknowledged == 0 && outcome.in_flight.is_none() {
        return None;
    }
    Some(outcome)
}

/// The rows' notes after the first `count` steps (id order is the
/// insertion order, so the multiset of notes is the table's content).
fn expected_notes(steps: &[Step], count: usize) -> Vec<i64> {
    let mut notes = Vec::new();
    for (index, step) in steps[..count].iter().enumerate() {
        match step {
            Step::Insert(rows) => {
                notes.extend(std::iter::repeat_n(index as i64, *rows as usize));
            }
            Step::Truncate | Step::TruncateRestart => notes.clear(),
            _ => {}
        }
    }
    notes
}

fn verify(fs: &SimulatedFileSystem, steps: &[Step], outcome: &Outcome, label: &str) {
    let opened = open(fs).unwrap_or_else(|error| panic!("{label}: recovery failed: {error}"));
    let mut session = opened.database.session();
    let rows = ok(&mut session, "SELECT id, note FROM items ORDER BY id");
    let ids: Vec<i64> = rows
        .iter()
        .map(|row| row[0].as_i64().expect("id"))
        .collect();
    let notes: Vec<i64> = rows
        .iter()
        .map(|row| row[1].as_i64().expect("note"))
        .collect();
    let acknowledged = expected_notes(steps, outcome.acknowledged);
    let with_in_flight = outcome
        .in_flight
        .map(|index| expected_notes(steps, index + 1));
    assert!(
        notes == acknowledged || Some(&notes) == with_in_flight.as_ref(),
        "{label}: rows {notes:?}, acknowledged {acknowledged:?} (in flight {:?})",
        outcome.in_flight
    );
    // Serial keys: the next one is new, and past what sessions saw.
    let next_id =
        first_value(&ok(&mut session, "SELECT nextval('items_id_seq')")).expect("a value");
    outcome
        .ids
        .check(next_id, &format!("{label}: items_id_seq"));
    let existing: BTreeSet<i64> = ids.into_iter().collect();
    assert!(!existing.contains(&next_id), "{label}: id {next_id} exists");
    ok(&mut session, "INSERT INTO items (note) VALUES (-1)");
    let next_ticket = first_value(&ok(&mut session, "SELECT nextval('tickets')")).expect("a value");
    outcome
        .tickets
        .check(next_ticket, &format!("{label}: tickets"));
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
fn power_loss_at_every_sync_never_repeats_a_sequence_value() {
    let steps = workload(71, 60);
    let (syncs, _) = dry_run(71, &steps);
    let mut crashes = 0;
    for ordinal in 1..=syncs + 2 {
        let fs = SimulatedFileSystem::new(3000 + ordinal);
        fs.power_off_at_sync(ordinal);
        let Some(outcome) = run_steps(&fs, &steps) else {
            fs.power_on();
            continue;
        };
        fs.power_on();
        crashes += 1;
        verify(&fs, &steps, &outcome, &format!("sync {ordinal}"));
    }
    assert!(crashes >= 40, "{crashes} crash points");
}

#[test]
fn power_loss_at_random_writes_never_repeats_a_sequence_value() {
    let steps = workload(73, 60);
    let (_, writes) = dry_run(73, &steps);
    let mut random = SplitMix(23);
    for round in 0..80u64 {
        let fs = SimulatedFileSystem::new(7000 + round);
        fs.power_off_at_write(1 + random.below(writes));
        let Some(outcome) = run_steps(&fs, &steps) else {
            fs.power_on();
            continue;
        };
        fs.power_on();
        verify(&fs, &steps, &outcome, &format!("round {round}"));
    }
}
