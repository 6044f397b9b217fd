//! SSI at index granularity: a SERIALIZABLE read through a secondary index
//! locks the key range it read (the gaps included), so a write into that
//! range is a conflict and a write outside it is not. Each shape runs twice:
//! over disjoint ranges, where neither transaction may abort, and over one
//! range, where exactly one of them must.
//!
//! The same shapes over a table without the index read the whole table,
//! and then even disjoint ranges abort one transaction (the last test shows
//! that this is the index's doing). A read of a primary-key range locks
//! that range too, whichever way it reads it: a backward read under a
//! LIMIT stops at its first rows, but the gap above them, which it found
//! empty, is locked with the rest.

mod sessions;

use basalt::Database;
use sessions::{Rows, begin, database, ok, run};

/// How many of the two transactions failed with 40001, at a statement or
/// at COMMIT; any other error fails the test. Each transaction runs its
/// statements in order, interleaved: first's read, second's read, first's
/// write, second's write, then both commit.
fn aborts(database: &Database, first: [&str; 2], second: [&str; 2]) -> usize {
    let mut one = begin(database, "SERIALIZABLE");
    let mut two = begin(database, "SERIALIZABLE");
    let results = [
        run(&mut one, first[0]),
        run(&mut two, second[0]),
        run(&mut one, first[1]),
        run(&mut two, second[1]),
    ];
    let (commit_one, commit_two) = (run(&mut one, "COMMIT"), run(&mut two, "COMMIT"));
    let failed = |results: &[&Rows]| {
        let mut failed = false;
        for result in results {
            match result {
                Ok(_) => {}
                Err(code) if code == "40001" => failed = true,
                // After a failure the transaction is aborted (25P02) until
                // its COMMIT, which rolls it back.
                Err(code) if code == "25P02" && failed => {}
                Err(code) => panic!("unexpected {code}"),
            }
        }
        failed
    };
    let one_failed = failed(&[&results[0], &results[2], &commit_one]);
    let two_failed = failed(&[&results[1], &results[3], &commit_two]);
    database
        .check_indexes()
        .expect("every index agrees with its table");
    usize::from(one_failed) + usize::from(two_failed)
}

const BOOKINGS: &str = "CREATE TABLE bookings (id int PRIMARY KEY, room int, slot int);
     CREATE INDEX bookings_room_slot ON bookings (room, slot);
     INSERT INTO bookings SELECT g, g % 50, g % 7 FROM generate_series(1, 500) g";

/// Double booking: each checks that a room's slot is free, then books it.
#[test]
fn double_booking_through_an_index_aborts_only_on_the_same_slot() {
    let free =
        |room: i32| format!("SELECT count(*) FROM bookings WHERE room = {room} AND slot = 100");
    let book = |id: i32, room: i32| format!("INSERT INTO bookings VALUES ({id}, {room}, 100)");
    let database = database(BOOKINGS);
    let (read1, write1, read2, write2) = (free(3), book(1001, 3), free(4), book(1002, 4));
    assert_eq!(
        aborts(&database, [&read1, &write1], [&read2, &write2]),
        0,
        "different rooms"
    );
    let database = self::database(BOOKINGS);
    let (read2, write2) = (free(3), book(1002, 3));
    assert_eq!(
        aborts(&database, [&read1, &write1], [&read2, &write2]),
        1,
        "the same room and slot"
    );
    let mut session = database.session();
    assert_eq!(
        ok(
            &mut session,
            "SELECT count(*) FROM bookings WHERE slot = 100"
        )[0][0]
            .as_i64(),
        Some(1),
        "one booking survives"
    );
}

const EVENTS: &str = "CREATE TABLE events (id int PRIMARY KEY, at int, what text);
     CREATE INDEX events_at ON events (at);
     INSERT INTO events SELECT g, g * 10, 'e' || g FROM generate_series(1, 300) g";

/// Check-then-insert over a range: each reads a range of times (empty
/// gaps included) and inserts an event at a time of its own. Each case:
/// both transactions' range and inserted time, how many must abort, why.
#[test]
fn check_then_insert_over_index_ranges_aborts_only_when_the_ranges_overlap() {
    let cases = [
        (
            "at > 1000 AND at < 1100",
            1055,
            "at >= 2000 AND at <= 2100",
            2055,
            0,
            "disjoint ranges",
        ),
        (
            "at > 1000 AND at < 1100",
            1055,
            "at >= 1050 AND at <= 2100",
            1060,
            1,
            "overlapping ranges, each inserting into the other's",
        ),
        // One dependency alone is no anomaly: the second reads what the
        // first inserts, but writes nothing the first read.
        (
            "at > 1000 AND at < 1100",
            1055,
            "at >= 1050 AND at <= 2100",
            2055,
            0,
            "one way",
        ),
        // Inserts next to a range's edge: inside it when it includes the
        // edge, outside when it does not.
        (
            "at > 1000 AND at < 1100",
            1100,
            "at >= 1100 AND at < 1200",
            1095,
            1,
            "closed edges",
        ),
        (
            "at > 1000 AND at < 1100",
            1100,
            "at > 1100 AND at < 1200",
            1000,
            0,
            "open edges",
        ),
    ];
    for (first_range, first_at, second_range, second_at, expected, why) in cases {
        let database = database(EVENTS);
        let statements = |range: &str, id: i32, at: i32| {
            [
                format!("SELECT * FROM events WHERE {range}"),
                format!("INSERT INTO events VALUES ({id}, {at}, 'new')"),
            ]
        };
        let first = statements(first_range, 1001, first_at);
        let second = statements(second_range, 1002, second_at);
        assert_eq!(
            aborts(&database, [&first[0], &first[1]], [&second[0], &second[1]]),
            expected,
            "{why}"
        );
    }
}

const DOCTORS: &str = "CREATE TABLE doctors (id int PRIMARY KEY, shift int, on_call boolean);
     CREATE INDEX doctors_shift ON doctors (shift);
     INSERT INTO doctors SELECT g, g / 2, true FROM generate_series(0, 199) g";

/// Write skew: each checks that another doctor of a shift is on call,
/// then goes off call.
#[test]
fn write_skew_through_an_index_aborts_only_within_one_shift() {
    let database = database(DOCTORS);
    assert_eq!(
        aborts(
            &database,
            [
                "SELECT count(*) FROM doctors WHERE shift = 10 AND on_call",
                "UPDATE doctors SET on_call = false WHERE id = 20",
            ],
            [
                "SELECT count(*) FROM doctors WHERE shift = 11 AND on_call",
                "UPDATE doctors SET on_call = false WHERE id = 22",
            ],
        ),
        0,
        "different shifts"
    );
    let database = self::database(DOCTORS);
    assert_eq!(
        aborts(
            &database,
            [
                "SELECT count(*) FROM doctors WHERE shift = 10 AND on_call",
                "UPDATE doctors SET on_call = false WHERE id = 20",
            ],
            [
                "SELECT count(*) FROM doctors WHERE shift = 10 AND on_call",
                "UPDATE doctors SET on_call = false WHERE id = 21",
            ],
        ),
        1,
        "the same shift"
    );
    let mut session = database.session();
    assert_eq!(
        ok(
            &mut session,
            "SELECT count(*) FROM doctors WHERE shift = 10 AND on_call"
        )[0][0]
            .as_i64(),
        Some(1),
        "someone stays on call"
    );
}

/// Without the index the reads lock the whole table, so even disjoint
/// bookings conflict: the precision above is the index's.
#[test]
fn without_the_index_disjoint_bookings_conflict() {
    let database = database(
        "CREATE TABLE bookings (id int PRIMARY KEY, room int, slot int);
         INSERT INTO bookings SELECT g, g % 50, g % 7 FROM generate_series(1, 500) g",
    );
    assert_eq!(
        aborts(
            &database,
            [
                "SELECT count(*) FROM bookings WHERE room = 3 AND slot = 100",
                "INSERT INTO bookings VALUES (1001, 3, 100)",
            ],
            [
                "SELECT count(*) FROM bookings WHERE room = 4 AND slot = 100",
                "INSERT INTO bookings VALUES (1002, 4, 100)",
            ],
        ),
        1
    );
}

/// An IN-list read through an index locks each listed value's range and
/// nothing between them. The first transaction reads rooms 3 and 7 and
/// books room 5, which the second read: a cycle only if the second books
/// a listed room, not a room between them.
#[test]
fn an_in_list_read_locks_only_the_listed_values() {
    let listed = "SELECT count(*) FROM bookings WHERE room IN (3, 7) AND slot = 100";
    let free = "SELECT count(*) FROM bookings WHERE room = 5 AND slot = 100";
    let cases = [
        (6, 0, "a room between the listed ones"),
        (7, 1, "a listed room"),
    ];
    for (room, expected, why) in cases {
        let database = database(BOOKINGS);
        assert_eq!(
            aborts(
                &database,
                [listed, "INSERT INTO bookings VALUES (1001, 5, 100)"],
                [
                    free,
                    &format!("INSERT INTO bookings VALUES (1002, {room}, 100)")
                ],
            ),
            expected,
            "{why}"
        );
    }
}

const ONCALL: &str =
    "CREATE TABLE oncall (id int PRIMARY KEY, ward int, doctor int, active boolean);
     CREATE INDEX oncall_active ON oncall (ward) WHERE active;
     INSERT INTO oncall SELECT g, g % 40, g, g % 3 = 0 FROM generate_series(1, 600) g";

/// A read through a partial index locks a range of that index, which
/// holds only the rows of its predicate: an insert the predicate admits
/// into the range is a conflict, and one it leaves out (no entry) is not,
/// as it matches no reader's WHERE either. The write-skew shape: each
/// counts a ward's active doctors, then adds one to the other's ward.
#[test]
fn a_partial_index_read_conflicts_only_with_rows_its_predicate_admits() {
    let count = |ward: i32| format!("SELECT count(*) FROM oncall WHERE ward = {ward} AND active");
    let add = |id: i32, ward: i32, active: bool| {
        format!("INSERT INTO oncall VALUES ({id}, {ward}, {id}, {active})")
    };
    // (ward the first adds to, ward the second adds to, active, aborts).
    let cases = [
        (3, 1, true, 1, "active doctors added to each other's ward"),
        (
            3,
            1,
            false,
            0,
            "inactive doctors added to each other's ward",
        ),
        (1, 3, true, 0, "active doctors added to their own ward"),
    ];
    for (first_ward, second_ward, active, expected, why) in cases {
        let database = database(ONCALL);
        assert_eq!(
            aborts(
                &database,
                [&count(1), &add(1001, first_ward, active)],
                [&count(3), &add(1002, second_ward, active)],
            ),
            expected,
            "{why}"
        );
    }
}

/// Index range locks coarsen under memory pressure: past 32 ranges in
/// one index, a transaction's locks there become one lock on the whole
/// index. It is counted (`SHOW basalt.ssi_coarsenings`, read-only), and
/// it makes a write anywhere in the index a conflict, as the coarse lock
/// covers it: the same write skew that 10 precise range reads let commit
/// aborts after 40.
#[test]
fn index_range_locks_coarsen_visibly_and_still_catch_conflicts() {
    let coarsenings = |session: &mut basalt::sql::Session| {
        let rows = ok(session, "SHOW basalt.ssi_coarsenings");
        let text = rows[0][0].to_text().expect("a text value");
        text.parse::<u64>().expect("a count")
    };
    for (reads, coarsened, expected_aborts) in [(10, false, 0), (40, true, 1)] {
        let database = database(EVENTS);
        let mut observer = database.session();
        let before = coarsenings(&mut observer);
        let mut reader = begin(&database, "SERIALIZABLE");
        // Ranges far from the times the cycle below writes (2505, 2995).
        for start in 0..reads {
            let low = start * 50;
            let sql = format!(
                "SELECT count(*) FROM events WHERE at BETWEEN {low} AND {}",
                low + 5
            );
            run(&mut reader, &sql).expect("a range read");
        }
        assert_eq!(
            coarsenings(&mut observer) > before,
            coarsened,
            "{reads} reads"
        );
        let locks = ok(&mut observer, "SHOW basalt.ssi_read_locks");
        assert_ne!(locks[0][0].to_text().as_deref(), Some("0"));
        // Write skew: the writer reads where the reader will insert, and
        // inserts where only the reader's coarse lock reaches.
        let mut writer = begin(&database, "SERIALIZABLE");
        run(
            &mut writer,
            "SELECT count(*) FROM events WHERE at BETWEEN 2900 AND 2999",
        )
        .expect("the writer's read");
        run(&mut writer, "INSERT INTO events VALUES (1001, 2505, 'w')")
            .expect("the writer's insert");
        let results = [
            run(&mut reader, "INSERT INTO events VALUES (1002, 2995, 'r')").map(|_| ()),
            run(&mut writer, "COMMIT").map(|_| ()),
            run(&mut reader, "COMMIT").map(|_| ()),
        ];
        let aborted = results
            .iter()
            .any(|result| matches!(result, Err(code) if code == "40001"));
        assert_eq!(
            usize::from(aborted),
            expected_aborts,
            "{reads} reads: {results:?}"
        );
        assert_eq!(
            run(&mut observer, "SET basalt.ssi_coarsenings = 0")
                .err()
                .as_deref(),
            Some("55P02"),
            "the counter is read-only"
        );
    }
}

const TICKETS: &str = "CREATE TABLE tickets (id int PRIMARY KEY, note text);
     INSERT INTO tickets SELECT g, 't' || g FROM generate_series(1, 399) g WHERE g % 100 < 50";

/// Each transaction reads the newest ticket below a bound, the primary
/// key read backward with a LIMIT (tickets 0-49 of each hundred exist, so
/// the read passes through an empty gap of 50-99 first), then inserts a
/// ticket. An insert into the gap the other read found empty changes
/// what that read returns; each case: both ranges and inserted ids, how
/// many must abort, why.
#[test]
fn a_limited_backward_key_read_locks_the_gap_it_found_empty() {
    let newest =
        |range: &str| format!("SELECT id FROM tickets WHERE {range} ORDER BY id DESC LIMIT 1");
    let mut session = database(TICKETS).session();
    let plan: String = ok(&mut session, &format!("EXPLAIN {}", newest("id < 200")))
        .iter()
        .map(|row| format!("{:?}\n", row[0]))
        .collect();
    assert!(plan.contains("Key Range Scan Backward"), "{plan}");
    assert_eq!(
        ok(&mut session, &newest("id < 200"))[0][0].as_i64(),
        Some(149)
    );
    let cases = [
        (
            "id < 200",
            380,
            "id > 200 AND id < 400",
            175,
            1,
            "each inserts into the gap the other found empty",
        ),
        ("id < 200", 380, "id > 200 AND id < 400", 275, 0, "one way"),
        (
            "id < 100",
            275,
            "id > 300 AND id < 400",
            175,
            0,
            "disjoint ranges",
        ),
    ];
    for (first_range, first_id, second_range, second_id, expected, why) in cases {
        let database = database(TICKETS);
        let statements = |range: &str, id: i32| {
            [
                newest(range),
                format!("INSERT INTO tickets VALUES ({id}, 'new')"),
            ]
        };
        let first = statements(first_range, first_id);
        let second = statements(second_range, second_id);
        assert_eq!(
            aborts(&database, [&first[0], &first[1]], [&second[0], &second[1]]),
            expected,
            "{why}"
        );
    }
}
