//! Secondary-index benchmark, basalt against PostgreSQL 15 in the same run,
//! in two parts.
//!
//! **Lookups** (target: basalt at least 1.0× PostgreSQL's transactions per
//! second). `accounts (id integer PRIMARY KEY, owner integer, balance
//! integer, note text)`, 1,000,000 rows (`BASALT_BENCH_ACCOUNTS`), owners
//! pseudo-random over 200,000 values (about 5 accounts each, scattered over
//! the table), loaded with `INSERT … SELECT … FROM generate_series` and then
//! indexed with `CREATE INDEX ON accounts (owner)`; basalt gets `ANALYZE`,
//! PostgreSQL `VACUUM ANALYZE`. Two prepared statements, each executed as a
//! transaction of its own (extended protocol, no BEGIN):
//!
//! - **point**: `SELECT * FROM accounts WHERE owner = $1` (about 5 rows);
//! - **range**: `SELECT * FROM accounts WHERE owner BETWEEN $1 AND $1 + 9`
//!   (about 50 rows);
//! - **range-two-parameters**: `… WHERE owner BETWEEN $1 AND $2`, the
//!   client passing `$1 + 9` as `$2`: the same rows, but a different plan on
//!   basalt, which plans a prepared statement once without its parameters'
//!   values (PostgreSQL plans the first five executions with them).
//!
//! Each runs with 1 and with 8 clients for `BASALT_BENCH_SECONDS` (default
//! 5) per measurement, every client its own connection and its own seeded
//! pseudo-random owners (the same sequence on both systems); rounds
//! (`BASALT_BENCH_ROUNDS`, default 3) alternate basalt and PostgreSQL, and
//! the bench reports the median transactions per second and the ratio
//! basalt / PostgreSQL. Each system runs at its **default isolation level:
//! basalt SERIALIZABLE, PostgreSQL READ COMMITTED** (so basalt also does
//! SSI's read tracking for every lookup). Before timing, the bench prints
//! both plans (with the parameters written in as literals; for basalt also
//! the plan of the prepared statement, from `EXPLAIN` with parameters) and
//! checks that both systems return the same rows for 200 owners.
//!
//! **Serializable aborts** (target: basalt aborts fewer transactions than
//! PostgreSQL). `events (id bigint PRIMARY KEY, slot integer, client
//! integer, note text)` with `CREATE INDEX ON events (slot)`, 10,000 rows
//! over 10,000 slots to start with. 8 clients, both systems at SERIALIZABLE
//! (`BEGIN ISOLATION LEVEL SERIALIZABLE` on each), each transaction:
//!
//! ```text
//!   BEGIN ISOLATION LEVEL SERIALIZABLE;
//!   SELECT count(*) FROM events WHERE slot BETWEEN $1 AND $1 + 99;  -- random $1
//!   INSERT INTO events (id, slot, client, note) VALUES ($1, $2, $3, 'event');  -- random slot
//!   COMMIT;
//! ```
//!
//! A transaction whose insert lands in a range another running
//! transaction read, and whose own range holds another's insert, is the
//! write skew SSI must break. Failures are not retried: the bench counts
//! commits, serialization failures (SQLSTATE 40001) and deadlocks (40P01)
//! for `BASALT_BENCH_SECONDS` per round and reports the abort rate, aborts
//! / (commits + aborts), of both systems side by side, with the
//! serialization failures' messages (PostgreSQL's detail names SSI's
//! reason). Commits are durable on both (`synchronous_commit` on, their
//! default).
//!
//! basalt runs in-process (`basalt::server::serve` over a fresh directory
//! under `target/tmp`, default settings); PostgreSQL is the one
//! `BASALT_BENCH_PG` names or a private one started with `initdb`/`pg_ctl`,
//! every setting at its default. The clients are `tokio-postgres` over TCP
//! loopback on a two-thread runtime of their own.
//!
//! Run: `cargo bench --bench indexes`; `BASALT_BENCH_ONLY=point`, `range`
//! or `aborts` (a prefix of a measurement's name), `BASALT_BENCH_SECONDS`,
//! `BASALT_BENCH_ROUNDS`, `BASALT_BENCH_ACCOUNTS`. Results go to
//! `docs/benchmarks.md` by hand, with the machine.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use basalt::storage::vfs::SplitMix64;
use common::{BasaltServer, System};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

/// Accounts per owner, on average.
const ACCOUNTS_PER_OWNER: i32 = 5;
/// Owners a range query covers: `owner BETWEEN $1 AND $1 + RANGE_OWNERS - 1`.
const RANGE_OWNERS: i32 = 10;
/// Rows per INSERT … SELECT when loading the accounts.
const LOAD_BATCH: i32 = 250_000;
/// Client counts of the lookup measurements.
const CLIENT_COUNTS: [usize; 2] = [1, 8];
/// Clients of the abort workload.
const ABORT_CLIENTS: usize = 8;
/// Slots of the events, and the events there at the start.
const SLOTS: i32 = 10_000;
/// Slots a transaction of the abort workload reads: `slot BETWEEN $1 AND
/// $1 + READ_WIDTH - 1`.
const READ_WIDTH: i32 = 100;

/// `BASALT_BENCH_ACCOUNTS`: rows of `accounts` (default 1,000,000).
fn accounts() -> i32 {
    common::env_number("BASALT_BENCH_ACCOUNTS", 1_000_000)
}

/// The load of `accounts` and `events`: (what it loads, SQL).
fn load_statements(accounts: i32) -> Vec<(String, String)> {
    let owners = (accounts / ACCOUNTS_PER_OWNER).max(1);
    let mut statements = vec![(
        "schema".to_owned(),
        "DROP TABLE IF EXISTS accounts, events; \
         CREATE TABLE accounts (id integer PRIMARY KEY, owner integer NOT NULL, \
         balance integer NOT NULL, note text NOT NULL); \
         CREATE TABLE events (id bigint PRIMARY KEY, slot integer NOT NULL, \
         client integer NOT NULL, note text NOT NULL)"
            .to_owned(),
    )];
    for start in (1..=accounts).step_by(LOAD_BATCH as usize) {
        let end = (start + LOAD_BATCH - 1).min(accounts);
        statements.push((
            format!("accounts {start}..{end}"),
            format!(
                "INSERT INTO accounts SELECT g, \
                 CAST(CAST(g AS bigint) * 889516851 % 2147483647 % {owners} AS integer), \
                 g * 37 % 100000, 'account note ' || CAST(g AS text) \
                 FROM generate_series({start}, {end}) AS g"
            ),
        ));
    }
    statements.push((
        "index on accounts (owner)".to_owned(),
        "CREATE INDEX ON accounts (owner)".to_owned(),
    ));
    statements.push((
        "events".to_owned(),
        format!(
            "INSERT INTO events SELECT g, \
             CAST(CAST(g AS bigint) * 1572067138 % 2147483647 % {SLOTS} AS integer), -1, \
             'initial' FROM generate_series(1, {SLOTS}) AS g; \
             CREATE INDEX ON events (slot)"
        ),
    ));
    statements
}

/// Runs the load; prints what each part took.
async fn load(system: &System, accounts: i32) -> Result<(), tokio_postgres::Error> {
    let started = Instant::now();
    let mut parts = Vec::new();
    for (what, sql) in load_statements(accounts) {
        let part = Instant::now();
        system.client.batch_execute(&sql).await?;
        parts.push(format!("{what} {:.1} s", part.elapsed().as_secs_f64()));
    }
    println!(
        "  {} loaded in {:.1} s ({})",
        system.name,
        started.elapsed().as_secs_f64(),
        parts.join(", ")
    );
    Ok(())
}

/// A lookup measured in transactions per second.
struct Lookup {
    name: &'static str,
    sql: &'static str,
    /// Whether `$2` is the range's upper bound (else the SQL computes it).
    upper_bound: bool,
}

impl Lookup {
    /// The statement's parameters for an owner.
    fn parameters(&self, owner: i32) -> Vec<i32> {
        if self.upper_bound {
            vec![owner, owner + RANGE_OWNERS - 1]
        } else {
            vec![owner]
        }
    }

    /// The statement with the parameters of an owner written in.
    fn with_literals(&self, owner: i32) -> String {
        self.parameters(owner)
            .iter()
            .enumerate()
            .rev()
            .fold(self.sql.to_owned(), |sql, (index, value)| {
                sql.replace(&format!("${}", index + 1), &value.to_string())
            })
    }

    /// Runs the prepared lookup for an owner.
    async fn run(
        &self,
        client: &Client,
        statement: &Statement,
        owner: i32,
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        let parameters = self.parameters(owner);
        let references: Vec<&(dyn ToSql + Sync)> = parameters
            .iter()
            .map(|parameter| parameter as &(dyn ToSql + Sync))
            .collect();
        client.query(statement, &references).await
    }
}

static LOOKUPS: [Lookup; 3] = [
    Lookup {
        name: "point",
        sql: "SELECT * FROM accounts WHERE owner = $1",
        upper_bound: false,
    },
    Lookup {
        name: "range",
        sql: "SELECT * FROM accounts WHERE owner BETWEEN $1 AND $1 + 9",
        upper_bound: false,
    },
    Lookup {
        name: "range-two-parameters",
        sql: "SELECT * FROM accounts WHERE owner BETWEEN $1 AND $2",
        upper_bound: true,
    },
];

/// A client's pseudo-random numbers: the same seed gives the same sequence
/// on both systems.
fn random(client: usize) -> SplitMix64 {
    SplitMix64(0x5EED_0000 + client as u64)
}

/// A system's clients for the timed measurements, each on its own
/// connection, made before any timing starts.
struct Clients {
    name: &'static str,
    clients: Vec<Arc<Client>>,
}

impl Clients {
    async fn connect(
        name: &'static str,
        connection: &str,
        count: usize,
    ) -> Result<Clients, tokio_postgres::Error> {
        let mut clients = Vec::new();
        for _ in 0..count {
            clients.push(Arc::new(common::connect(name, connection).await?));
        }
        Ok(Clients { name, clients })
    }
}

/// Transactions per second of `clients` clients running the lookup with
/// random owners for `duration`; also the rows read per second.
async fn lookup_rate(
    system: &Clients,
    lookup: &'static Lookup,
    clients: usize,
    owners: i32,
    duration: Duration,
) -> (f64, f64) {
    let mut prepared = Vec::new();
    for client in system.clients.iter().take(clients) {
        let statement = client
            .prepare(lookup.sql)
            .await
            .unwrap_or_else(|error| panic!("{}: prepare {}: {error}", system.name, lookup.name));
        prepared.push((Arc::clone(client), statement));
    }
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for (index, (client, statement)) in prepared.into_iter().enumerate() {
        let name = system.name;
        tasks.push(tokio::spawn(async move {
            let mut random = random(index);
            let (mut transactions, mut rows) = (0u64, 0u64);
            while Instant::now() < deadline {
                let owner = random.below(owners as u64) as i32;
                let result = lookup
                    .run(&client, &statement, owner)
                    .await
                    .unwrap_or_else(|error| panic!("{name}: {}: {error}", lookup.name));
                transactions += 1;
                rows += result.len() as u64;
            }
            (transactions, rows)
        }));
    }
    let (mut transactions, mut rows) = (0u64, 0u64);
    for task in tasks {
        let (done, read) = task.await.expect("a lookup client panicked");
        transactions += done;
        rows += read;
    }
    let seconds = started.elapsed().as_secs_f64();
    (transactions as f64 / seconds, rows as f64 / seconds)
}

/// basalt's plan for the prepared statement (planned once, without the
/// parameters' values), from `EXPLAIN` over the extended protocol.
async fn print_prepared_plan(basalt: &System, lookup: &Lookup, owner: i32) {
    let explain = format!("EXPLAIN {}", lookup.sql);
    let plan = match basalt.client.prepare(&explain).await {
        Ok(statement) => lookup.run(&basalt.client, &statement, owner).await,
        Err(error) => Err(error),
    };
    match plan {
        Ok(rows) => {
            println!("  basalt plan of the prepared statement:");
            for row in rows {
                println!("    {}", row.get::<_, String>(0));
            }
        }
        Err(error) => println!("  basalt EXPLAIN of the prepared statement: {error}"),
    }
}

/// Rows of a result as (id, owner, balance, note), sorted by id.
fn account_rows(rows: &[Row]) -> Vec<(i32, i32, i32, String)> {
    let mut rows: Vec<(i32, i32, i32, String)> = rows
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect();
    rows.sort();
    rows
}

/// Checks that both systems return the same rows for 200 random owners;
/// panics naming the first owner where they differ.
async fn check_lookup(basalt: &System, postgres: &System, lookup: &Lookup, owners: i32) {
    let ours = basalt
        .client
        .prepare(lookup.sql)
        .await
        .expect("basalt: prepare");
    let theirs = postgres
        .client
        .prepare(lookup.sql)
        .await
        .expect("PostgreSQL: prepare");
    let mut random = random(999);
    let mut rows = 0;
    for _ in 0..200 {
        let owner = random.below(owners as u64) as i32;
        let our_rows = account_rows(
            &lookup
                .run(&basalt.client, &ours, owner)
                .await
                .expect("basalt: lookup"),
        );
        let their_rows = account_rows(
            &lookup
                .run(&postgres.client, &theirs, owner)
                .await
                .expect("PostgreSQL: lookup"),
        );
        assert_eq!(
            our_rows, their_rows,
            "{}: owner {owner}: basalt and PostgreSQL returned different rows",
            lookup.name
        );
        rows += our_rows.len();
    }
    println!(
        "  same rows from both for 200 owners ({:.1} rows each on average)",
        rows as f64 / 200.0
    );
}

/// The text with each run of digits (transaction ids) as `#`, so that
/// failures for the same reason count together.
fn without_numbers(text: &str) -> String {
    let mut result = String::with_capacity(text.len());
    for character in text.chars() {
        if !character.is_ascii_digit() {
            result.push(character);
        } else if !result.ends_with('#') {
            result.push('#');
        }
    }
    result
}

/// Outcomes of the abort workload on one system.
#[derive(Default)]
struct Outcomes {
    commits: u64,
    serialization_failures: u64,
    deadlocks: u64,
    other_errors: u64,
    first_other_error: Option<String>,
    /// Serialization failures by message and detail (PostgreSQL's detail
    /// gives SSI's reason code), numbers left out.
    reasons: BTreeMap<String, u64>,
}

impl Outcomes {
    fn add(&mut self, other: Outcomes) {
        self.commits += other.commits;
        self.serialization_failures += other.serialization_failures;
        self.deadlocks += other.deadlocks;
        self.other_errors += other.other_errors;
        if self.first_other_error.is_none() {
            self.first_other_error = other.first_other_error;
        }
        for (reason, count) in other.reasons {
            *self.reasons.entry(reason).or_default() += count;
        }
    }

    fn aborts(&self) -> u64 {
        self.serialization_failures + self.deadlocks
    }

    /// Aborts / (commits + aborts), in percent.
    fn abort_rate(&self) -> f64 {
        let attempts = self.commits + self.aborts();
        if attempts == 0 {
            0.0
        } else {
            100.0 * self.aborts() as f64 / attempts as f64
        }
    }
}

/// One transaction of the abort workload; the error that ended it, if any.
async fn read_then_insert(
    client: &Client,
    select: &Statement,
    insert: &Statement,
    start: i32,
    (id, slot, client_number): (i64, i32, i32),
) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
        .await?;
    let body = async {
        client.query_one(select, &[&start]).await?;
        client
            .execute(insert, &[&id, &slot, &client_number])
            .await?;
        Ok::<_, tokio_postgres::Error>(())
    };
    if let Err(error) = body.await {
        // The transaction failed: end it (its error is what counts).
        if let Err(rollback) = client.batch_execute("ROLLBACK").await {
            eprintln!("ROLLBACK failed: {rollback}");
        }
        return Err(error);
    }
    // A failed COMMIT ends the transaction by itself.
    client.batch_execute("COMMIT").await
}

/// Runs the abort workload on a system for `duration`; `round` keeps the
/// inserted ids of different rounds apart.
async fn abort_workload(
    connection: &str,
    name: &'static str,
    round: usize,
    duration: Duration,
) -> Outcomes {
    let mut tasks = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..ABORT_CLIENTS {
        let client = common::connect(name, connection)
            .await
            .expect("connect a client");
        let select = client
            .prepare(&format!(
                "SELECT count(*) FROM events WHERE slot BETWEEN $1 AND $1 + {}",
                READ_WIDTH - 1
            ))
            .await
            .expect("prepare the read");
        let insert = client
            .prepare("INSERT INTO events (id, slot, client, note) VALUES ($1, $2, $3, 'event')")
            .await
            .expect("prepare the insert");
        clients.push((client, select, insert));
    }
    let started = Instant::now();
    let deadline = started + duration;
    for (index, (client, select, insert)) in clients.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut random = SplitMix64(0xAB0_0000 + (round * 100 + index) as u64);
            let mut outcomes = Outcomes::default();
            let mut sequence = 0i64;
            while Instant::now() < deadline {
                sequence += 1;
                let id = ((round * 100 + index + 1) as i64) * 1_000_000_000 + sequence;
                let start = random.below((SLOTS - READ_WIDTH + 1) as u64) as i32;
                let slot = random.below(SLOTS as u64) as i32;
                let result =
                    read_then_insert(&client, &select, &insert, start, (id, slot, index as i32))
                        .await;
                match result {
                    Ok(()) => outcomes.commits += 1,
                    Err(error) => match error.code() {
                        Some(code) if *code == SqlState::T_R_SERIALIZATION_FAILURE => {
                            outcomes.serialization_failures += 1;
                            let reason = match error.as_db_error() {
                                Some(error) => format!(
                                    "{}{}",
                                    error.message(),
                                    error
                                        .detail()
                                        .map(|detail| format!(" ({detail})"))
                                        .unwrap_or_default()
                                ),
                                None => error.to_string(),
                            };
                            *outcomes
                                .reasons
                                .entry(without_numbers(&reason))
                                .or_default() += 1;
                        }
                        Some(code) if *code == SqlState::T_R_DEADLOCK_DETECTED => {
                            outcomes.deadlocks += 1
                        }
                        _ => {
                            outcomes.other_errors += 1;
                            if outcomes.first_other_error.is_none() {
                                outcomes.first_other_error = Some(error.to_string());
                            }
                        }
                    },
                }
            }
            outcomes
        }));
    }
    let mut outcomes = Outcomes::default();
    for task in tasks {
        outcomes.add(task.await.expect("an abort-workload client panicked"));
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "    {name}: {} commits ({:.0}/s), {} serialization failures, {} deadlocks, \
         {} other errors{}: abort rate {:.2}%",
        outcomes.commits,
        outcomes.commits as f64 / seconds,
        outcomes.serialization_failures,
        outcomes.deadlocks,
        outcomes.other_errors,
        outcomes
            .first_other_error
            .as_deref()
            .map(|error| format!(" (first: {error})"))
            .unwrap_or_default(),
        outcomes.abort_rate()
    );
    outcomes
}

async fn print_isolation(system: &System) {
    let level = system
        .lines("SHOW default_transaction_isolation")
        .await
        .expect("SHOW default_transaction_isolation");
    println!(
        "  {} default_transaction_isolation: {}",
        system.name,
        level.join(" ")
    );
}

fn median_f64(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

async fn bench(basalt: System, basalt_connection: &str, postgres: Option<(System, String)>) {
    let rounds = common::rounds(3);
    let only = common::only();
    let duration = common::seconds(5.0);
    let accounts = accounts();
    let owners = (accounts / ACCOUNTS_PER_OWNER).max(1);
    println!(
        "indexes: accounts {accounts} ({owners} owners), events {SLOTS} over {SLOTS} slots; \
         {:.1} s per measurement, {rounds} rounds",
        duration.as_secs_f64()
    );
    let mut systems = vec![(&basalt, basalt_connection)];
    if let Some((postgres, connection)) = &postgres {
        systems.push((postgres, connection.as_str()));
    }
    for (system, _) in &systems {
        load(system, accounts).await.expect("load");
        let started = Instant::now();
        if system.name == "basalt" {
            system
                .client
                .batch_execute("ANALYZE")
                .await
                .expect("ANALYZE on basalt");
            println!("  basalt ANALYZE {:.1} s", started.elapsed().as_secs_f64());
        } else {
            common::vacuum_analyze(system, &["accounts", "events"]).await;
        }
        print_isolation(system).await;
    }
    let mut summary = Vec::new();
    for lookup in LOOKUPS
        .iter()
        .filter(|lookup| lookup.name.starts_with(&only))
    {
        println!("{}: {}", lookup.name, lookup.sql);
        let example = lookup.with_literals(owners / 2);
        common::print_plans(
            &basalt,
            postgres.as_ref().map(|(system, _)| system),
            &example,
        )
        .await;
        print_prepared_plan(&basalt, lookup, owners / 2).await;
        if let Some((postgres, _)) = &postgres {
            check_lookup(&basalt, postgres, lookup, owners).await;
        }
    }
    // Connections for the timed runs, made before any timing starts.
    let max_clients = CLIENT_COUNTS.iter().copied().max().unwrap_or(1);
    let mut pools = Vec::new();
    for (system, connection) in &systems {
        pools.push(
            Clients::connect(system.name, connection, max_clients)
                .await
                .expect("connect the clients"),
        );
    }
    for lookup in LOOKUPS
        .iter()
        .filter(|lookup| lookup.name.starts_with(&only))
    {
        for clients in CLIENT_COUNTS {
            println!("{}, clients: {clients}", lookup.name);
            let mut rates = vec![Vec::new(); pools.len()];
            for round in 1..=rounds {
                let mut line = format!("  round {round}:");
                for (index, pool) in pools.iter().enumerate() {
                    let (transactions, rows) =
                        lookup_rate(pool, lookup, clients, owners, duration).await;
                    line.push_str(&format!(
                        " {} {transactions:.0} tps ({rows:.0} rows/s)",
                        pool.name
                    ));
                    rates[index].push(transactions);
                }
                println!("{line}");
            }
            let medians: Vec<f64> = rates.iter().map(|rates| median_f64(rates)).collect();
            let line = match medians[..] {
                [ours, theirs] => format!(
                    "{}, clients: {clients}: basalt {ours:.0} tps (SERIALIZABLE), PostgreSQL \
                     {theirs:.0} tps (READ COMMITTED), basalt / PostgreSQL {:.2}",
                    lookup.name,
                    ours / theirs
                ),
                _ => format!(
                    "{}, clients: {clients}: basalt {:.0} tps (PostgreSQL not measured)",
                    lookup.name, medians[0]
                ),
            };
            println!("  median of {rounds}: {line}");
            summary.push(line);
        }
    }
    if "aborts".starts_with(&only) {
        println!(
            "aborts: {ABORT_CLIENTS} clients at SERIALIZABLE, each transaction: \
             SELECT count(*) FROM events WHERE slot BETWEEN $1 AND $1 + {}; \
             INSERT INTO events … VALUES (…, $2, …); COMMIT",
            READ_WIDTH - 1
        );
        let example = format!(
            "SELECT count(*) FROM events WHERE slot BETWEEN {} AND {}",
            SLOTS / 2,
            SLOTS / 2 + READ_WIDTH - 1
        );
        common::print_plans(
            &basalt,
            postgres.as_ref().map(|(system, _)| system),
            &example,
        )
        .await;
        let mut totals: Vec<Outcomes> = systems.iter().map(|_| Outcomes::default()).collect();
        for round in 1..=rounds {
            println!("  round {round}:");
            for (index, (system, connection)) in systems.iter().enumerate() {
                let outcomes = abort_workload(connection, system.name, round, duration).await;
                totals[index].add(outcomes);
            }
        }
        let mut line = format!("aborts, {ABORT_CLIENTS} clients, SERIALIZABLE:");
        for ((system, _), total) in systems.iter().zip(&totals) {
            line.push_str(&format!(
                " {} {:.2}% ({} of {} attempts: {} 40001, {} 40P01; {} commits/s)",
                system.name,
                total.abort_rate(),
                total.aborts(),
                total.commits + total.aborts(),
                total.serialization_failures,
                total.deadlocks,
                format_args!(
                    "{:.0}",
                    total.commits as f64 / (duration.as_secs_f64() * rounds as f64)
                ),
            ));
        }
        println!("  all rounds: {line}");
        for ((system, _), total) in systems.iter().zip(&totals) {
            for (reason, count) in &total.reasons {
                println!("  {} 40001 ×{count}: {reason}", system.name);
            }
        }
        summary.push(line);
    }
    common::print_summary(
        "summary (lookups: target basalt / PostgreSQL ≥ 1.0; aborts: target basalt below PostgreSQL):",
        &summary,
    );
}

fn main() {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let server = BasaltServer::start(base);
    let mut private = None;
    let postgres_connection = common::postgres_connection(&mut private, "basalt-indexes-pg.");
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime for the clients");
    client_runtime.block_on(async {
        let basalt_connection = server.connection();
        let basalt = System::connect("basalt", &basalt_connection)
            .await
            .expect("connect to basalt");
        let postgres = match postgres_connection {
            Some(connection) => match System::connect("PostgreSQL", &connection).await {
                Ok(system) => Some((system, connection)),
                Err(error) => {
                    println!("PostgreSQL skipped: cannot connect to {connection} ({error})");
                    None
                }
            },
            None => None,
        };
        bench(basalt, &basalt_connection, postgres).await;
    });
    drop(client_runtime);
    drop(private);
    drop(server);
}
