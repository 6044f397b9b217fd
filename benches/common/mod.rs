//! What the benches that compare basalt with PostgreSQL over the wire
//! share (`joins`, `tpch`, `indexes`, each with `mod common;`):
//!
//! - [`BasaltServer`]: basalt in-process (`basalt::server::serve` on
//!   127.0.0.1:0 over a fresh data directory under `target/tmp`, buffer pool
//!   at its default 128 MiB, every setting at its default, and mimalloc as
//!   the allocator, as in the `basalt` binary);
//! - [`PrivatePostgres`]: a PostgreSQL the bench starts itself (`initdb` and
//!   `pg_ctl` from `PATH` in a temporary directory, as the `postgres` user
//!   when the bench runs as root, on a free loopback port, every setting at
//!   its default), or the one `BASALT_BENCH_PG` names
//!   ([`postgres_connection`]);
//! - [`System`]: a `tokio-postgres` client and its system's name, plans
//!   ([`print_plans`]), alternating timed rounds ([`alternate_rounds`]) and
//!   their summary ([`summary_line`]);
//! - the environment knobs `BASALT_BENCH_ROUNDS`, `BASALT_BENCH_ONLY` and
//!   `BASALT_BENCH_SECONDS`.

// Each bench uses a part of this module; the rest is dead code to it.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use basalt::server::serve;
use basalt::{Config, Database};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tokio_postgres::{Client, NoTls, Row, SimpleQueryMessage, Statement};

/// The `basalt` binary's allocator (`src/main.rs`), so that basalt
/// in-process runs as the server does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The number environment variable `name` holds, or `default` without
/// it; a value that is not a number stops the bench.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).map_or(default, |text| {
        text.parse()
            .unwrap_or_else(|_| panic!("{name} is a number, not {text:?}"))
    })
}

/// `BASALT_BENCH_ROUNDS`: timed rounds per query (default `default`).
pub fn rounds(default: usize) -> usize {
    env_number("BASALT_BENCH_ROUNDS", default)
}

/// `BASALT_BENCH_ONLY`: a prefix of the names of what to run (empty: all).
pub fn only() -> String {
    std::env::var("BASALT_BENCH_ONLY").unwrap_or_default()
}

/// `BASALT_BENCH_SECONDS`: the length of a timed measurement.
pub fn seconds(default: f64) -> Duration {
    Duration::from_secs_f64(env_number("BASALT_BENCH_SECONDS", default))
}

/// Prints the closing summary: `heading`, then each line indented.
pub fn print_summary(heading: &str, lines: &[String]) {
    println!("{heading}");
    for line in lines {
        println!("  {line}");
    }
}

/// Connects a client; its connection is driven by a task on the current
/// runtime, which reports (as `name`) how the connection ended if it failed.
pub async fn connect(
    name: &'static str,
    connection: &str,
) -> Result<Client, tokio_postgres::Error> {
    let (client, driver) = tokio_postgres::connect(connection, NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = driver.await {
            eprintln!("{name}: connection ended: {error}");
        }
    });
    Ok(client)
}

/// One system under test: a connected client and what it is called.
pub struct System {
    pub name: &'static str,
    pub client: Client,
}

impl System {
    pub async fn connect(
        name: &'static str,
        connection: &str,
    ) -> Result<System, tokio_postgres::Error> {
        Ok(System {
            name,
            client: connect(name, connection).await?,
        })
    }

    /// The text lines of a statement run with the simple protocol (EXPLAIN).
    pub async fn lines(&self, sql: &str) -> Result<Vec<String>, tokio_postgres::Error> {
        let messages = self.client.simple_query(sql).await?;
        Ok(messages
            .iter()
            .filter_map(|message| match message {
                SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or("").to_owned()),
                _ => None,
            })
            .collect())
    }

    /// One execution of a prepared query without parameters: the time from
    /// Bind/Execute to the last row received, and the rows.
    pub async fn time(
        &self,
        statement: &Statement,
    ) -> Result<(Duration, Vec<Row>), tokio_postgres::Error> {
        let started = Instant::now();
        let rows = self.client.query(statement, &[]).await?;
        Ok((started.elapsed(), rows))
    }
}

/// basalt's server, in-process, on its own runtime.
pub struct BasaltServer {
    runtime: Runtime,
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<basalt::Result<()>>>,
    dir: tempfile::TempDir,
}

impl BasaltServer {
    pub fn start(base: &Path) -> BasaltServer {
        let dir = tempfile::tempdir_in(base).expect("temporary directory for basalt");
        let database = Database::open(&Config::new(dir.path())).expect("open basalt's database");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime for basalt's server");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind basalt's listener");
        let address = listener.local_addr().expect("basalt's address");
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = runtime.spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            serve(database, listener, shutdown).await
        });
        BasaltServer {
            runtime,
            address,
            stop: Some(stop),
            handle: Some(handle),
            dir,
        }
    }

    pub fn connection(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=basalt dbname=basalt",
            self.address.port()
        )
    }

    /// Bytes of files in the data directory.
    pub fn disk_bytes(&self) -> u64 {
        fn size(path: &Path) -> u64 {
            let Ok(entries) = std::fs::read_dir(path) else {
                return 0;
            };
            entries
                .flatten()
                .map(|entry| match entry.metadata() {
                    Ok(meta) if meta.is_dir() => size(&entry.path()),
                    Ok(meta) => meta.len(),
                    Err(_) => 0,
                })
                .sum()
        }
        size(self.dir.path())
    }
}

impl Drop for BasaltServer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(handle) = self.handle.take() {
            match self.runtime.block_on(handle) {
                Ok(Ok(())) => {}
                Ok(Err(error)) => eprintln!("basalt's server failed: {error}"),
                Err(error) => eprintln!("basalt's server task failed: {error}"),
            }
        }
    }
}

/// A private PostgreSQL: `initdb` into a temporary directory, `pg_ctl
/// start` on a free port; stopped (fast) when dropped.
pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    data: PathBuf,
    port: u16,
    /// Whether commands run as the `postgres` user (the bench runs as root,
    /// which PostgreSQL refuses).
    as_postgres: bool,
}

impl PrivatePostgres {
    /// Starts one in a temporary directory named `prefix` and a suffix.
    pub fn start(prefix: &str) -> Result<PrivatePostgres, String> {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
            .map_err(|error| format!("id -u: {error}"))?;
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .map_err(|error| format!("temporary directory: {error}"))?;
        if root {
            shell(&format!("chown postgres {}", dir.path().display()), false)?;
        }
        let port = StdListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|error| format!("free port: {error}"))?
            .port();
        let data = dir.path().join("data");
        let postgres = PrivatePostgres {
            data,
            port,
            as_postgres: root,
            dir,
        };
        postgres.run(&format!(
            "initdb -D {} -A trust -U postgres >/dev/null",
            postgres.data.display()
        ))?;
        postgres.run(&format!(
            "pg_ctl -D {data} -o '-p {port} -k {dir} -c listen_addresses=127.0.0.1' \
             -l {dir}/log -w start >/dev/null",
            data = postgres.data.display(),
            dir = postgres.dir.path().display(),
        ))?;
        Ok(postgres)
    }

    fn run(&self, command: &str) -> Result<(), String> {
        shell(command, self.as_postgres)
    }

    pub fn connection(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        )
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let stop = format!("pg_ctl -D {} -m fast stop >/dev/null", self.data.display());
        if let Err(error) = self.run(&stop) {
            eprintln!("stopping the private PostgreSQL: {error}");
        }
    }
}

/// Runs a shell command (as the `postgres` user if asked); an error names
/// the command and its stderr.
fn shell(command: &str, as_postgres: bool) -> Result<(), String> {
    let output = if as_postgres {
        Command::new("su")
            .args(["postgres", "-c", command])
            .output()
    } else {
        Command::new("sh").args(["-c", command]).output()
    }
    .map_err(|error| format!("{command}: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command}: {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

pub fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The PostgreSQL to compare with: `BASALT_BENCH_PG`, or a private one
/// started in a directory named after `prefix` (kept in `private`, which
/// stops it when dropped). `None` (after saying why) if it cannot start.
pub fn postgres_connection(private: &mut Option<PrivatePostgres>, prefix: &str) -> Option<String> {
    match std::env::var("BASALT_BENCH_PG") {
        Ok(connection) => Some(connection),
        Err(_) => match PrivatePostgres::start(prefix) {
            Ok(postgres) => {
                let connection = postgres.connection();
                *private = Some(postgres);
                Some(connection)
            }
            Err(error) => {
                println!("PostgreSQL skipped: could not start a private instance ({error})");
                None
            }
        },
    }
}

/// The PostgreSQL to compare with, connected ([`postgres_connection`]).
/// `None` (after saying why) if neither can be reached.
pub async fn postgres_system(
    private: &mut Option<PrivatePostgres>,
    prefix: &str,
) -> Option<System> {
    let connection = postgres_connection(private, prefix)?;
    match System::connect("PostgreSQL", &connection).await {
        Ok(system) => Some(system),
        Err(error) => {
            println!("PostgreSQL skipped: cannot connect to {connection} ({error})");
            None
        }
    }
}

/// A bench's `main` for one client per system: starts basalt in process
/// and finds PostgreSQL (a private instance named with `prefix` if none
/// is given), runs `bench` with a client of each on a current-thread
/// runtime, then stops both.
pub fn run_bench(prefix: &str, bench: impl AsyncFnOnce(System, Option<System>, &BasaltServer)) {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let server = BasaltServer::start(base);
    let mut private = None;
    let client_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime for the clients");
    client_runtime.block_on(async {
        let basalt = System::connect("basalt", &server.connection())
            .await
            .expect("connect to basalt");
        let postgres = postgres_system(&mut private, prefix).await;
        bench(basalt, postgres, &server).await;
    });
    drop(client_runtime);
    drop(private);
    drop(server);
}

/// Drops `drop` (a `DROP TABLE IF EXISTS` list), runs `schema`, then each
/// load statement, timing each part; prints and returns the seconds.
pub async fn load_tables(
    system: &System,
    drop: &str,
    schema: &str,
    statements: Vec<(String, String)>,
) -> Result<f64, tokio_postgres::Error> {
    let started = Instant::now();
    system
        .client
        .batch_execute(&format!("DROP TABLE IF EXISTS {drop}"))
        .await?;
    system.client.batch_execute(schema).await?;
    let mut parts = Vec::new();
    for (what, sql) in statements {
        let part = Instant::now();
        system.client.batch_execute(&sql).await?;
        parts.push(format!("{what} {:.1} s", part.elapsed().as_secs_f64()));
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "  {} loaded in {seconds:.1} s ({})",
        system.name,
        parts.join(", ")
    );
    Ok(seconds)
}

/// `VACUUM ANALYZE` of each table on PostgreSQL (one statement per query
/// string: VACUUM refuses to run in the implicit transaction of a
/// multi-statement string), timed, then its settings.
pub async fn vacuum_analyze(postgres: &System, tables: &[&str]) {
    let started = Instant::now();
    for table in tables {
        postgres
            .client
            .batch_execute(&format!("VACUUM ANALYZE {table}"))
            .await
            .expect("VACUUM ANALYZE on PostgreSQL");
    }
    println!(
        "  PostgreSQL VACUUM ANALYZE {:.1} s",
        started.elapsed().as_secs_f64()
    );
    print_postgres_settings(postgres).await;
}

/// Prints PostgreSQL's version and the settings that shape its plans and
/// commits, and the size of its tables with their indexes.
pub async fn print_postgres_settings(postgres: &System) {
    let settings = postgres
        .lines(
            "SELECT version() || '; ' || string_agg(name || ' ' || setting || \
             coalesce(unit, ''), ', ' ORDER BY name) FROM pg_settings WHERE name IN \
             ('shared_buffers', 'work_mem', 'max_parallel_workers_per_gather', 'jit', \
             'max_parallel_workers')",
        )
        .await
        .expect("PostgreSQL settings");
    println!("  PostgreSQL: {}", settings.join(" "));
    let sizes = postgres
        .lines(
            "SELECT (sum(pg_total_relation_size(relid)) / 1048576)::int || ' MiB' \
             FROM pg_stat_user_tables",
        )
        .await
        .expect("PostgreSQL table sizes");
    println!("  PostgreSQL tables with indexes: {}", sizes.join(" "));
}

/// Prints basalt's plan (`EXPLAIN`) and, if PostgreSQL is there, its plan
/// (`EXPLAIN (COSTS OFF)`) and from one `EXPLAIN ANALYZE` whether it
/// launched parallel workers and used JIT, and its execution time.
pub async fn print_plans(basalt: &System, postgres: Option<&System>, sql: &str) {
    println!("  basalt plan:");
    for line in basalt
        .lines(&format!("EXPLAIN {sql}"))
        .await
        .expect("basalt EXPLAIN")
    {
        println!("    {line}");
    }
    let Some(postgres) = postgres else {
        return;
    };
    println!("  PostgreSQL plan:");
    for line in postgres
        .lines(&format!("EXPLAIN (COSTS OFF) {sql}"))
        .await
        .expect("PostgreSQL EXPLAIN")
    {
        println!("    {line}");
    }
    let analyzed = postgres
        .lines(&format!("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}"))
        .await
        .expect("PostgreSQL EXPLAIN ANALYZE");
    let notes: Vec<&str> = analyzed
        .iter()
        .map(|line| line.trim())
        .filter(|line| {
            line.starts_with("Workers")
                || line.starts_with("JIT")
                || line.starts_with("Functions")
                || line.starts_with("Timing")
                || line.starts_with("Execution Time")
        })
        .collect();
    println!("  PostgreSQL EXPLAIN ANALYZE: {}", notes.join("; "));
}

/// Times `rounds` executions of each system's prepared statement
/// (`statements[i]` is `systems[i]`'s), alternating the systems within a
/// round and printing each round; returns each system's times.
pub async fn alternate_rounds(
    systems: &[&System],
    statements: &[Statement],
    rounds: usize,
    query: &str,
) -> Vec<Vec<Duration>> {
    let mut times = vec![Vec::new(); systems.len()];
    for round in 1..=rounds {
        let mut line = format!("  round {round}:");
        for (index, system) in systems.iter().enumerate() {
            let (time, _) = system
                .time(&statements[index])
                .await
                .unwrap_or_else(|error| panic!("{}: run {query}: {error}", system.name));
            line.push_str(&format!(" {} {:.0} ms", system.name, ms(time)));
            times[index].push(time);
        }
        println!("{line}");
    }
    times
}

/// The summary of a query's rounds: both medians, their ratio basalt /
/// PostgreSQL and the median of the rounds' own ratios (steadier on a
/// machine whose speed drifts between rounds); basalt's median alone if
/// PostgreSQL was not measured.
pub fn summary_line(query: &str, times: &[Vec<Duration>]) -> String {
    let medians: Vec<Duration> = times.iter().map(|times| median(times)).collect();
    match medians[..] {
        [ours, theirs] => {
            // Each round times both systems within a second or two; this
            // machine's speed drifts more than that between rounds, so the
            // ratio within a round is the steadier measure. Both are
            // reported.
            let mut ratios: Vec<f64> = times[0]
                .iter()
                .zip(&times[1])
                .map(|(ours, theirs)| ours.as_secs_f64() / theirs.as_secs_f64())
                .collect();
            ratios.sort_by(f64::total_cmp);
            format!(
                "{query}: basalt {:.0} ms, PostgreSQL {:.0} ms, basalt / PostgreSQL {:.2} \
                 (median of the rounds' ratios {:.2})",
                ms(ours),
                ms(theirs),
                ours.as_secs_f64() / theirs.as_secs_f64(),
                ratios[ratios.len() / 2]
            )
        }
        _ => format!(
            "{query}: basalt {:.0} ms (PostgreSQL not measured)",
            ms(medians[0])
        ),
    }
}
