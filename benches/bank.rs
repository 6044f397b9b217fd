//! Bank-transfer benchmark: what SSI (SERIALIZABLE) costs over
//! snapshot isolation (REPEATABLE READ), READ COMMITTED alongside, and the
//! same workloads on PostgreSQL.
//!
//! A transfer is one transaction of four statements, each run as the SQL
//! session runs one (`begin_statement`; after a failure, again on a newer
//! snapshot while `refresh_after_conflict` allows): read A's balance, read
//! B's, then `balance = balance + delta` on A and on B (read and write in one
//! statement, like SQL `UPDATE`), in ascending account order so that writers
//! cannot deadlock. A failed transaction is rolled back and the client
//! retries the same transfer; each failure counts as an abort. 8 threads on:
//!
//! - **contended**: 100 accounts shared by all threads, random distinct A, B;
//! - **uncontended**: 100 accounts per thread, so every abort is a false
//!   positive;
//! - **contended, updates only**: without the two reads. With them, a lost
//!   write–write conflict is always on a row an earlier statement read, so
//!   read refresh cannot apply; without them it can.
//!
//! basalt runs in-process on a `BTreeEngine`, a fresh one under `target/tmp`
//! per measurement, with `synchronous_commit` off: the CPU cost of
//! concurrency control, not fsync. The uncontended workload runs REPEATABLE
//! READ and SERIALIZABLE in adjacent pairs (`BASALT_BENCH_PAIRS`, default 5)
//! and reports the median SERIALIZABLE / REPEATABLE READ throughput ratio,
//! the acceptance figure. Each run asserts that the sum of balances held.
//!
//! PostgreSQL runs the same over the wire if `BASALT_BENCH_PG` holds a
//! connection string (`host=/tmp/pg port=5432 user=postgres dbname=postgres`;
//! skipped if unset or unreachable): 8 connections, prepared statements,
//! `synchronous_commit = off`, `enable_seqscan = off` (tuple, not relation,
//! predicate locks on the tiny table). Its throughput includes the wire and
//! SQL, basalt's does not: compare abort rates, not transfers per second.
//!
//! Run: `cargo bench --bench bank`; `BASALT_BENCH_SECONDS` per measurement
//! (default 3, after a warm-up of a third of that), `BASALT_BENCH_SYNC=1`
//! for durable commits on both systems, `BASALT_BENCH_ONLY=uncontended` (or
//! any prefix of a workload's name) for some workloads, and
//! `BASALT_BENCH_THREADS` for another number of threads than 8.
//!
//! Output, a table per workload: committed transfers/s, aborts/s, aborts in
//! % of attempts, by cause: `ww` 40001 from a lost write–write conflict,
//! `rw` 40001 from SSI, 40P01, other (the first printed with its message).
//! basalt only: statement re-runs after read refresh per second (failed
//! transactions' included), `refreshed%` of commits that needed one (each
//! an abort on PostgreSQL above READ COMMITTED), `limit%` of aborts in
//! transactions with `MAX_REFRESHES` re-runs or more (the refresh limit),
//! and CPU µs of the whole process per committed transfer. Then SERIALIZABLE / REPEATABLE READ, for the pairs
//! also per CPU second: the machine is shared, and CPU time is what a
//! neighbour's load disturbs least. Results go to `docs/benchmarks.md`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use basalt::storage::vfs::SplitMix64;
use basalt::storage::{BTreeEngine, Engine, TreeId};
use basalt::txn::refresh::MAX_REFRESHES;
use basalt::txn::{IsolationLevel, Mvcc, Transaction};
use basalt::{Config, Error};
use crossbeam::utils::CachePadded;

const ACCOUNTS: u64 = 100;
const INITIAL_BALANCE: i64 = 1_000;
const LEVELS: [IsolationLevel; 3] = [
    IsolationLevel::ReadCommitted,
    IsolationLevel::RepeatableRead,
    IsolationLevel::Serializable,
];

/// Client threads (connections): 8, or `BASALT_BENCH_THREADS`.
static THREADS: LazyLock<usize> = LazyLock::new(|| {
    std::env::var("BASALT_BENCH_THREADS").map_or(8, |text| text.parse().expect("a number"))
});
/// `BASALT_BENCH_SYNC=1`: durable commits (read once, not per transaction).
static SYNCHRONOUS: LazyLock<bool> =
    LazyLock::new(|| std::env::var("BASALT_BENCH_SYNC").as_deref() == Ok("1"));

#[derive(Clone, Copy)]
struct Workload {
    name: &'static str,
    /// All threads share `ACCOUNTS` accounts, or each has `ACCOUNTS` of its own.
    shared: bool,
    /// Whether the transfer reads both balances before updating them.
    read_first: bool,
}

impl Workload {
    /// The first of `thread`'s accounts (0 for all if they are shared).
    fn base(&self, thread: usize) -> u64 {
        thread as u64 * ACCOUNTS * u64::from(!self.shared)
    }

    fn accounts(&self) -> u64 {
        self.base(*THREADS - 1) + ACCOUNTS
    }
}

/// One transfer: `amount` moves from account `from` to account `to`.
#[derive(Clone, Copy)]
struct Transfer {
    from: u64,
    to: u64,
    amount: i64,
}

impl Transfer {
    /// The two updates as (account, delta), in ascending account order.
    fn updates(&self) -> [(u64, i64); 2] {
        let mut updates = [(self.from, -self.amount), (self.to, self.amount)];
        updates.sort_unstable();
        updates
    }
}

/// The transfers' random choices (basalt's splitmix64).
struct Random(SplitMix64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn transfer(&mut self, workload: Workload, thread: usize) -> Transfer {
        let base = workload.base(thread);
        let from = self.next() % ACCOUNTS;
        let to = (from + 1 + self.next() % (ACCOUNTS - 1)) % ACCOUNTS;
        let amount = (self.next() % 100) as i64 + 1;
        Transfer {
            from: base + from,
            to: base + to,
            amount,
        }
    }
}

// Indexes into a thread's counters; the aborts by cause come last.
const COMMITTED: usize = 0;
const REFRESHES: usize = 1;
const REFRESHED_COMMITS: usize = 2;
const REFRESH_LIMIT: usize = 3;
const CONCURRENT_UPDATE: usize = 4;
const DEPENDENCIES: usize = 5;
const DEADLOCK: usize = 6;
const OTHER: usize = 7;
const COUNTERS: usize = 8;

/// A failed attempt: its SQLSTATE and message.
type Failure = (String, String);

/// The counters' growth over a measurement, its length in seconds, and the
/// first error that was not a serialization failure or deadlock.
struct Run {
    tally: [u64; COUNTERS],
    seconds: f64,
    /// CPU seconds the whole process used meanwhile (user and system).
    cpu: f64,
    unexpected: Option<String>,
}

impl Run {
    /// Committed transfers per second of wall time and per CPU second.
    fn rates(&self) -> (f64, f64) {
        let committed = self.tally[COMMITTED] as f64;
        (committed / self.seconds, committed / self.cpu)
    }
}

/// CPU seconds this process used so far, from `/proc/self/stat` (utime and
/// stime, in the 1/100 s ticks Linux reports there).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    // The fields after the command name, which ends with the last ')',
    // start at field 3 of the line: utime and stime (14, 15) are 11 and 12.
    let (_, fields) = stat
        .rsplit_once(')')
        .expect("/proc/self/stat has a command name");
    let fields: Vec<&str> = fields.split_whitespace().collect();
    let ticks = |index: usize| fields[index].parse::<u64>().expect("CPU ticks");
    (ticks(11) + ticks(12)) as f64 / 100.0
}

fn sum(counters: &[CachePadded<[AtomicU64; COUNTERS]>]) -> [u64; COUNTERS] {
    let mut tally = [0; COUNTERS];
    for thread in counters {
        for (total, counter) in tally.iter_mut().zip(thread.iter()) {
            *total += counter.load(Ordering::Relaxed);
        }
    }
    tally
}

/// Runs `THREADS` clients, each made by `connect` on its own thread, over a
/// warm-up of a third of `BASALT_BENCH_SECONDS` (default 3) and then the
/// measurement. A client retries each transfer until it commits; `attempt`
/// makes one try and adds its statement re-runs to the `u64`.
fn drive<Client>(
    workload: Workload,
    connect: impl Fn() -> Client + Sync,
    attempt: impl Fn(&mut Client, Transfer, &mut u64) -> Result<(), Failure> + Sync,
) -> Run {
    let seconds = std::env::var("BASALT_BENCH_SECONDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(3.0);
    let counters: Vec<CachePadded<[AtomicU64; COUNTERS]>> = (0..*THREADS)
        .map(|_| CachePadded::new(Default::default()))
        .collect();
    let unexpected = Mutex::new(None);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for thread in 0..*THREADS {
            let (counters, unexpected, stop) = (&counters[thread], &unexpected, &stop);
            let (connect, attempt) = (&connect, &attempt);
            scope.spawn(move || {
                let add = |counter: usize, amount: u64| {
                    counters[counter].fetch_add(amount, Ordering::Relaxed);
                };
                let mut client = connect();
                let mut random = Random(SplitMix64(thread as u64 + 1));
                while !stop.load(Ordering::Relaxed) {
                    let transfer = random.transfer(workload, thread);
                    while !stop.load(Ordering::Relaxed) {
                        let mut refreshes = 0;
                        let outcome = attempt(&mut client, transfer, &mut refreshes);
                        add(REFRESHES, refreshes);
                        let Err((code, message)) = outcome else {
                            add(COMMITTED, 1);
                            add(REFRESHED_COMMITS, (refreshes > 0) as u64);
                            break;
                        };
                        add(REFRESH_LIMIT, (refreshes >= MAX_REFRESHES as u64) as u64);
                        let cause = match code.as_str() {
                            "40001" if message.contains("concurrent update") => CONCURRENT_UPDATE,
                            "40001" => DEPENDENCIES,
                            "40P01" => DEADLOCK,
                            _ => OTHER,
                        };
                        add(cause, 1);
                        if cause == OTHER {
                            let mut first = unexpected.lock().expect("unexpected-error lock");
                            first.get_or_insert(format!("{code}: {message}"));
                        }
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_secs_f64(seconds / 3.0));
        let (before, cpu_before) = (sum(&counters), cpu_seconds());
        let started = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(seconds));
        let (after, cpu) = (sum(&counters), cpu_seconds() - cpu_before);
        let seconds = started.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let mut tally = [0; COUNTERS];
        for (index, total) in tally.iter_mut().enumerate() {
            *total = after[index] - before[index];
        }
        let unexpected = unexpected.lock().expect("unexpected-error lock").clone();
        Run {
            tally,
            seconds,
            cpu,
            unexpected,
        }
    })
}

fn balance(txn: &mut Transaction, tree: TreeId, account: u64) -> basalt::Result<i64> {
    let bytes = txn
        .get(tree, &account.to_be_bytes())?
        .ok_or_else(|| Error::Internal(format!("account {account} is missing")))?;
    let bytes: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::Internal(format!("account {account}: balance is not 8 bytes")))?;
    Ok(i64::from_be_bytes(bytes))
}

/// Runs one statement as `src/sql/session.rs` (`run_refreshing`) does:
/// while it fails and read refresh moves the transaction to a newer
/// snapshot, runs it again.
fn statement<T>(
    txn: &mut Transaction,
    mut work: impl FnMut(&mut Transaction) -> basalt::Result<T>,
) -> basalt::Result<T> {
    txn.begin_statement();
    loop {
        match work(txn) {
            Err(_) if txn.refresh_after_conflict()? => continue,
            outcome => return outcome,
        }
    }
}

fn transfer_statements(
    txn: &mut Transaction,
    tree: TreeId,
    workload: Workload,
    transfer: Transfer,
) -> basalt::Result<()> {
    if workload.read_first {
        statement(txn, |txn| balance(txn, tree, transfer.from))?;
        statement(txn, |txn| balance(txn, tree, transfer.to))?;
    }
    for (account, delta) in transfer.updates() {
        statement(txn, |txn| {
            let new_balance = balance(txn, tree, account)? + delta;
            txn.set(tree, &account.to_be_bytes(), &new_balance.to_be_bytes())
        })?;
    }
    Ok(())
}

fn basalt_run(base: &Path, workload: Workload, level: IsolationLevel) -> Run {
    let dir = tempfile::tempdir_in(base).expect("tempdir");
    let engine = Arc::new(BTreeEngine::open(&Config::new(dir.path())).expect("open engine"));
    let mvcc = Mvcc::open(engine as Arc<dyn Engine>).expect("open mvcc");
    let mut setup = mvcc.begin(IsolationLevel::RepeatableRead).expect("begin");
    let tree = setup.create_tree().expect("create tree");
    for account in 0..workload.accounts() {
        setup
            .set(tree, &account.to_be_bytes(), &INITIAL_BALANCE.to_be_bytes())
            .expect("open account");
    }
    setup.commit().expect("commit accounts");
    // One attempt at a transfer; rolls back on failure.
    let attempt = |transfer, refreshes: &mut u64| {
        let mut txn = mvcc.begin(level)?;
        txn.set_synchronous_commit(*SYNCHRONOUS);
        let outcome = transfer_statements(&mut txn, tree, workload, transfer);
        *refreshes += txn.refreshes();
        match outcome {
            Ok(()) => txn.commit(),
            Err(error) => txn.rollback().and(Err(error)),
        }
    };
    let run = drive(
        workload,
        || (),
        |(), transfer, refreshes| {
            attempt(transfer, refreshes)
                .map_err(|error: Error| (error.sqlstate().code().to_owned(), error.to_string()))
        },
    );
    let mut check = mvcc.begin(IsolationLevel::RepeatableRead).expect("begin");
    check.begin_statement();
    let total: i64 = (0..workload.accounts())
        .map(|account| balance(&mut check, tree, account).expect("read balance"))
        .sum();
    check.commit().expect("commit");
    assert_eq!(
        total,
        INITIAL_BALANCE * workload.accounts() as i64,
        "basalt {}: the sum of balances changed",
        level.name()
    );
    run
}

const PG_TABLE: &str = "basalt_bench_accounts";

/// A connection to PostgreSQL, driven by its own single-threaded runtime
/// (a blocking client, like basalt's threads), with the session set up.
fn pg_connect(
    connection: &str,
) -> Result<(tokio::runtime::Runtime, tokio_postgres::Client), tokio_postgres::Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let client = runtime.block_on(async {
        let (client, driver) = tokio_postgres::connect(connection, tokio_postgres::NoTls).await?;
        tokio::spawn(driver);
        let commit = if *SYNCHRONOUS { "on" } else { "off" };
        client
            .batch_execute(&format!(
                "SET synchronous_commit = {commit}; SET enable_seqscan = off"
            ))
            .await?;
        Ok::<_, tokio_postgres::Error>(client)
    })?;
    Ok((runtime, client))
}

/// A client thread's connection and its two prepared statements.
struct PgClient {
    runtime: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
    select: tokio_postgres::Statement,
    update: tokio_postgres::Statement,
}

fn pg_client(connection: &str) -> Result<PgClient, tokio_postgres::Error> {
    let (runtime, client) = pg_connect(connection)?;
    let select = format!("SELECT balance FROM {PG_TABLE} WHERE id = $1");
    let update = format!("UPDATE {PG_TABLE} SET balance = balance + $1 WHERE id = $2");
    let (select, update) = runtime.block_on(async {
        Ok::<_, tokio_postgres::Error>((
            client.prepare(&select).await?,
            client.prepare(&update).await?,
        ))
    })?;
    Ok(PgClient {
        runtime,
        client,
        select,
        update,
    })
}

fn pg_run(
    connection: &str,
    workload: Workload,
    level: IsolationLevel,
) -> Result<Run, tokio_postgres::Error> {
    let accounts = workload.accounts() as i64;
    let (runtime, setup) = pg_connect(connection)?;
    runtime.block_on(setup.batch_execute(&format!(
        "DROP TABLE IF EXISTS {PG_TABLE};
         CREATE TABLE {PG_TABLE} (id integer PRIMARY KEY, balance bigint NOT NULL);
         INSERT INTO {PG_TABLE} SELECT account, {INITIAL_BALANCE}
             FROM generate_series(0, {accounts} - 1) AS account;"
    )))?;
    runtime.block_on(setup.batch_execute(&format!("VACUUM ANALYZE {PG_TABLE}")))?;
    let begin = format!("BEGIN ISOLATION LEVEL {}", level.name().to_uppercase());
    // One attempt at a transfer; rolls back on failure.
    let attempt = |pg: &mut PgClient, transfer: Transfer| {
        let client = &pg.client;
        pg.runtime.block_on(async {
            let outcome = async {
                client.batch_execute(&begin).await?;
                for account in [transfer.from, transfer.to]
                    .iter()
                    .filter(|_| workload.read_first)
                {
                    client.query_one(&pg.select, &[&(*account as i32)]).await?;
                }
                for (account, delta) in transfer.updates() {
                    client
                        .execute(&pg.update, &[&delta, &(account as i32)])
                        .await?;
                }
                client.batch_execute("COMMIT").await
            }
            .await;
            if outcome.is_err() {
                client.batch_execute("ROLLBACK").await?;
            }
            outcome
        })
    };
    let connect = || pg_client(connection).expect("connect to PostgreSQL");
    let run = drive(workload, connect, |pg, transfer, _| {
        attempt(pg, transfer).map_err(|error| {
            let code = error.code().map_or("none", |state| state.code());
            let message = error
                .as_db_error()
                .map_or_else(|| error.to_string(), |db| db.message().into());
            (code.to_owned(), message)
        })
    });
    let total: i64 = runtime
        .block_on(setup.query_one(&format!("SELECT sum(balance)::bigint FROM {PG_TABLE}"), &[]))?
        .get(0);
    runtime.block_on(setup.batch_execute(&format!("DROP TABLE {PG_TABLE}")))?;
    assert_eq!(
        total,
        INITIAL_BALANCE * accounts,
        "PostgreSQL {}: the sum of balances changed",
        level.name()
    );
    Ok(run)
}

/// Prints one row of a table; returns committed transfers per second.
fn print_row(system: &str, level: IsolationLevel, run: &Run) -> f64 {
    let (tally, seconds) = (&run.tally, run.seconds);
    let aborts: u64 = tally[CONCURRENT_UPDATE..].iter().sum();
    let attempts = (tally[COMMITTED] + aborts).max(1) as f64;
    let percent = |count: u64| 100.0 * count as f64 / attempts;
    let rate = tally[COMMITTED] as f64 / seconds;
    let refresh = if system == "basalt" {
        format!(
            "{:>10.0} {:>9.2}% {:>6.1}% {:>7.1}",
            tally[REFRESHES] as f64 / seconds,
            100.0 * tally[REFRESHED_COMMITS] as f64 / tally[COMMITTED].max(1) as f64,
            100.0 * tally[REFRESH_LIMIT] as f64 / aborts.max(1) as f64,
            1e6 / run.rates().1,
        )
    } else {
        format!("{:>10} {:>10} {:>7} {:>7}", "-", "-", "-", "-")
    };
    println!(
        "  {system:<10} {:<15} {rate:>11.0} {:>9.0} {:>6.2}% {:>6.2}% {:>6.2}% {:>6.2}% {:>6.2}% {refresh}",
        level.name(),
        aborts as f64 / seconds,
        percent(aborts),
        percent(tally[CONCURRENT_UPDATE]),
        percent(tally[DEPENDENCIES]),
        percent(tally[DEADLOCK]),
        percent(tally[OTHER]),
    );
    if let Some(error) = &run.unexpected {
        println!("  !! {system} {}: unexpected error {error}", level.name());
    }
    rate
}

/// The uncontended workload's acceptance figure: REPEATABLE READ and
/// SERIALIZABLE in `pairs` adjacent pairs, odd pairs SERIALIZABLE first so
/// that a drift of the machine favours neither; prints the median ratio.
fn basalt_pairs(base: &Path, workload: Workload, pairs: usize) {
    // Per pair: SERIALIZABLE / REPEATABLE READ in wall-clock throughput and
    // in transfers per CPU second.
    let mut ratios = [Vec::with_capacity(pairs), Vec::with_capacity(pairs)];
    for pair in 0..pairs {
        let mut levels = [IsolationLevel::RepeatableRead, IsolationLevel::Serializable];
        levels.rotate_left(pair % 2);
        let mut rates = [(0.0, 0.0); 2];
        for level in levels {
            let run = basalt_run(base, workload, level);
            print_row("basalt", level, &run);
            rates[(level == IsolationLevel::Serializable) as usize] = run.rates();
        }
        ratios[0].push(rates[1].0 / rates[0].0);
        ratios[1].push(rates[1].1 / rates[0].1);
    }
    for (measure, mut ratios) in ["throughput", "transfers per CPU second"]
        .into_iter()
        .zip(ratios)
    {
        let shown: Vec<String> = ratios.iter().map(|ratio| format!("{ratio:.3}")).collect();
        ratios.sort_by(f64::total_cmp);
        if let Some(median) = ratios.get(ratios.len() / 2) {
            println!(
                "  basalt serializable / repeatable read, {measure}, pairs {}: median {median:.3}",
                shown.join(", ")
            );
        }
    }
}

fn main() {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let pairs: usize = std::env::var("BASALT_BENCH_PAIRS")
        .map(|text| text.parse().expect("BASALT_BENCH_PAIRS is a number"))
        .unwrap_or(5);
    let postgres = match std::env::var("BASALT_BENCH_PG") {
        Err(_) => {
            println!("PostgreSQL skipped: set BASALT_BENCH_PG to a connection string");
            None
        }
        Ok(connection) => match pg_connect(&connection) {
            Ok(_) => Some(connection),
            Err(error) => {
                println!("PostgreSQL skipped: cannot connect ({error})");
                None
            }
        },
    };
    let commits = if *SYNCHRONOUS {
        "durable"
    } else {
        "synchronous_commit off"
    };
    println!(
        "bank transfers, threads: {}, {commits}; aborts by cause in % of attempts",
        *THREADS
    );
    let workloads = [
        ("contended: 100 shared accounts", true, true),
        ("uncontended: 100 accounts per thread", false, true),
        ("contended, updates only", true, false),
    ]
    .map(|(name, shared, read_first)| Workload {
        name,
        shared,
        read_first,
    });
    let only = std::env::var("BASALT_BENCH_ONLY").unwrap_or_default();
    for workload in workloads
        .iter()
        .filter(|workload| workload.name.starts_with(&only))
    {
        println!("{}", workload.name);
        println!(
            "  system     level           transfers/s  aborts/s  abort%     ww%     rw%  \
             40P01%  other%  refresh/s refreshed%  limit%  cpu µs"
        );
        let mut rates = vec![("basalt", Vec::new()), ("PostgreSQL", Vec::new())];
        if workload.shared {
            for level in LEVELS {
                let run = basalt_run(base, *workload, level);
                rates[0].1.push(print_row("basalt", level, &run));
            }
        } else {
            let level = IsolationLevel::ReadCommitted;
            print_row("basalt", level, &basalt_run(base, *workload, level));
            basalt_pairs(base, *workload, pairs);
        }
        for level in LEVELS.iter().filter(|_| postgres.is_some()) {
            let connection = postgres.as_deref().expect("checked above");
            match pg_run(connection, *workload, *level) {
                Ok(run) => rates[1].1.push(print_row("PostgreSQL", *level, &run)),
                Err(error) => println!("  PostgreSQL {}: failed: {error}", level.name()),
            }
        }
        for (system, rates) in rates {
            if let [_, snapshot, serializable] = rates[..] {
                println!(
                    "  {system} serializable / repeatable read: {:.3}",
                    serializable / snapshot
                );
            }
        }
    }
}
