//! Real crashes: the `basalt` binary is killed with SIGKILL at random moments
//! while several connections commit numbered multi-row transactions. After
//! each restart, every acknowledged transaction must be there whole, and an
//! unacknowledged one (the one in flight when the server died) whole or not
//! at all.
//!
//! The table has three secondary indexes (one unique, one with a
//! descending column, one partial on an expression with an INCLUDE
//! column). After each kill, `basalt check` recovers the directory and
//! verifies them against the table before the server restarts, and the
//! read-back goes through an index as well as through the primary key.
//!
//! `BASALT_KILL_CYCLES` sets the number of kill cycles (default 50; the long
//! mode is 1000).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::*;

const WRITERS: i64 = 4;
/// Rows per transaction, each inserted by its own statement.
const PARTS: i64 = 3;
/// Transaction numbers of one writer in one cycle stay below this.
const CYCLE_STRIDE: i64 = 1_000_000;

/// Row id of part `part` of transaction `seq` of `writer`.
fn row_id(writer: i64, seq: i64, part: i64) -> i64 {
    (writer * 1_000_000_000 + seq) * 10 + part
}

/// What one writer did in one cycle.
#[derive(Default)]
struct WriterLog {
    acknowledged: Vec<i64>,
    in_flight: Option<i64>,
}

async fn write_until_killed(
    address: std::net::SocketAddr,
    writer: i64,
    first_seq: i64,
) -> WriterLog {
    let mut log = WriterLog::default();
    let config = format!(
        "host=127.0.0.1 port={} user=tester dbname=test",
        address.port()
    );
    let Ok((client, connection)) = tokio_postgres::connect(&config, tokio_postgres::NoTls).await
    else {
        return log;
    };
    tokio::spawn(async move {
        let _ = connection.await;
    });
    for seq in first_seq.. {
        let mut batch = String::from("BEGIN;");
        for part in 0..PARTS {
            batch.push_str(&format!(
                "INSERT INTO acks VALUES ({}, {writer}, {seq}, {part});",
                row_id(writer, seq, part)
            ));
        }
        batch.push_str("COMMIT");
        log.in_flight = Some(seq);
        if client.batch_execute(&batch).await.is_err() {
            return log;
        }
        log.acknowledged.push(seq);
        log.in_flight = None;
    }
    unreachable!("the server is killed first")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_loses_no_acknowledged_transaction() {
    let cycles: u64 = std::env::var("BASALT_KILL_CYCLES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(50);
    let data_dir = tempfile::tempdir().expect("tempdir");
    let path = data_dir.path().to_path_buf();
    let mut server = tokio::task::spawn_blocking({
        let path = path.clone();
        move || spawn_binary(&path)
    })
    .await
    .expect("spawn");
    connect(server.address)
        .await
        .batch_execute(
            "CREATE TABLE acks (id BIGINT PRIMARY KEY, writer BIGINT, seq BIGINT, part BIGINT);
             CREATE INDEX acks_writer_seq ON acks (writer, seq DESC);
             CREATE UNIQUE INDEX acks_seq_part ON acks (seq, part, writer);
             CREATE INDEX acks_even_parts ON acks ((seq * 10 + part)) INCLUDE (writer) WHERE part % 2 = 0",
        )
        .await
        .expect("create table and indexes");
    let mut random = SplitMix(0xBA5A17);
    // Every transaction known to be committed: (writer, seq).
    let mut committed: BTreeSet<(i64, i64)> = BTreeSet::new();
    let mut total_acknowledged = 0usize;
    for cycle in 0..cycles as i64 {
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                tokio::spawn(write_until_killed(
                    server.address,
                    writer,
                    cycle * CYCLE_STRIDE,
                ))
            })
            .collect();
        let delay = 20 + random.next() % 250;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        server.child.kill().expect("SIGKILL");
        let status = tokio::task::spawn_blocking(move || {
            let status = server.child.wait().expect("wait");
            (server, status)
        })
        .await
        .expect("reap");
        assert!(!status.1.success(), "cycle {cycle}: killed, not exited");
        let mut logs = Vec::new();
        for writer in writers {
            logs.push(writer.await.expect("writer task"));
        }

        let report = tokio::task::spawn_blocking({
            let path = path.clone();
            move || check_binary(&path)
        })
        .await
        .expect("check");
        assert!(
            report.starts_with("checked 3 indexes"),
            "cycle {cycle}: {report}"
        );
        server = tokio::task::spawn_blocking({
            let path = path.clone();
            move || spawn_binary(&path)
        })
        .await
        .expect("restart");
        let client = connect(server.address).await;
        for (writer, log) in logs.iter().enumerate() {
            let writer = writer as i64;
            let low = row_id(writer, cycle * CYCLE_STRIDE, 0);
            let high = row_id(writer, (cycle + 1) * CYCLE_STRIDE, 0);
            let rows = client
                .query(
                    "SELECT id, seq FROM acks WHERE id >= $1 AND id < $2",
                    &[&low, &high],
                )
                .await
                .expect("read back");
            let mut parts: BTreeMap<i64, i64> = BTreeMap::new();
            for row in &rows {
                *parts.entry(row.get::<_, i64>(1)).or_default() += 1;
            }
            // The same rows through the (writer, seq DESC) index.
            let through_index: i64 = client
                .query_one(
                    "SELECT count(*) FROM acks WHERE writer = $1 AND seq >= $2 AND seq < $3",
                    &[
                        &writer,
                        &(cycle * CYCLE_STRIDE),
                        &((cycle + 1) * CYCLE_STRIDE),
                    ],
                )
                .await
                .expect("read back through the index")
                .get(0);
            assert_eq!(
                through_index as usize,
                rows.len(),
                "cycle {cycle} writer {writer}: the index and the table disagree"
            );
            for seq in &log.acknowledged {
                assert_eq!(
                    parts.get(seq),
                    Some(&PARTS),
                    "cycle {cycle} writer {writer}: acknowledged transaction {seq} lost"
                );
            }
            for (seq, count) in &parts {
                assert_eq!(
                    *count, PARTS,
                    "cycle {cycle} writer {writer}: transaction {seq} is partly present"
                );
                assert!(
                    log.acknowledged.contains(seq) || log.in_flight == Some(*seq),
                    "cycle {cycle} writer {writer}: transaction {seq} was never sent"
                );
                committed.insert((writer, *seq));
            }
            total_acknowledged += log.acknowledged.len();
        }
        // Nothing from earlier cycles went missing either.
        let count: i64 = client
            .query_one("SELECT count(*) FROM acks", &[])
            .await
            .expect("count")
            .get(0);
        assert_eq!(
            count as usize,
            committed.len() * PARTS as usize,
            "cycle {cycle}: rows of earlier cycles changed"
        );
    }
    assert!(
        total_acknowledged as u64 >= cycles,
        "the writers made progress: {total_acknowledged} acknowledged commits"
    );
    eprintln!(
        "{cycles} kill cycles, {total_acknowledged} acknowledged transactions, {} committed",
        committed.len()
    );
    let status = tokio::task::spawn_blocking(move || terminate(&mut server))
        .await
        .expect("terminate");
    assert_eq!(status.code(), Some(0));
}
