//! The `basalt` binary: `basalt serve` runs the PostgreSQL-protocol server;
//! `basalt check` opens a data directory (recovering it if the last server
//! crashed), verifies that every secondary index agrees with its table, and
//! exits 0 if so, 1 naming the first disagreement otherwise.
//!
//! Flags fall back to environment variables, then to defaults:
//! `--data-dir` / `BASALT_DATA_DIR` (`./basalt-data`), `--listen` /
//! `BASALT_LISTEN` (`127.0.0.1:5433`), `--buffer-pool-pages` /
//! `BASALT_BUFFER_POOL_PAGES`. Logs go to stderr (filter with `RUST_LOG`);
//! once bound, the line `listening on <address>` is printed to stdout, so a
//! caller that asked for port 0 learns the real port. SIGINT or SIGTERM
//! shuts down gracefully and the process exits 0.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use basalt::Database;
use basalt::config::{AutoAnalyze, Config, DEFAULT_BUFFER_POOL_PAGES};
use basalt::server::{DEFAULT_MAX_CONNECTIONS, ServerSettings, ShutdownSignal, serve_with};
use clap::{Args, Parser, Subcommand};
use tokio::net::TcpListener;

/// mimalloc rather than the system allocator: a scan's worker thread
/// allocates the text values its rows carry and the executor thread frees
/// them, a pattern glibc's per-thread arenas serve badly (the freeing
/// thread's lists fill while the allocating thread keeps carving fresh
/// memory); it was a third of a TPC-H Q1 profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "basalt",
    version,
    about = "A serializable SQL database speaking the PostgreSQL protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve PostgreSQL clients.
    Serve(ServeArgs),
    /// Recover the data directory and verify every index against its table.
    Check(CheckArgs),
}

/// Where the database lives and how it is cached: every subcommand's.
#[derive(Debug, Args)]
struct StorageArgs {
    /// Directory holding the database files.
    #[arg(long, env = "BASALT_DATA_DIR", default_value = "./basalt-data")]
    data_dir: PathBuf,
    /// Buffer pool capacity in 8 KiB pages.
    #[arg(long, env = "BASALT_BUFFER_POOL_PAGES", default_value_t = DEFAULT_BUFFER_POOL_PAGES)]
    buffer_pool_pages: usize,
}

impl StorageArgs {
    fn config(&self) -> Config {
        Config::new(&self.data_dir).with_buffer_pool_pages(self.buffer_pool_pages)
    }
}

#[derive(Debug, Args)]
struct CheckArgs {
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    storage: StorageArgs,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "BASALT_LISTEN", default_value = "127.0.0.1:5433")]
    listen: String,
    /// Connections served at once; one more is refused with 53300.
    #[arg(long, env = "BASALT_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Analyze a table again once this fraction of its rows (plus the
    /// threshold) changed; 0 with a threshold of 0 analyzes after any change.
    #[arg(long, env = "BASALT_AUTOANALYZE_SCALE_FACTOR", default_value_t = 0.1)]
    autoanalyze_scale_factor: f64,
    /// Changed rows a table needs on top of the scale factor's share.
    #[arg(long, env = "BASALT_AUTOANALYZE_THRESHOLD", default_value_t = 50)]
    autoanalyze_threshold: u64,
    /// Seconds between the automatic analyze's passes over the tables.
    #[arg(long, env = "BASALT_AUTOANALYZE_NAPTIME", default_value_t = 60)]
    autoanalyze_naptime: u64,
    /// Never analyze automatically.
    #[arg(long, env = "BASALT_NO_AUTOANALYZE")]
    no_autoanalyze: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only for a terminal, not for log files or pipes.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_env_filter(filter)
        .init();
    let result = match cli.command {
        Command::Serve(arguments) => run(arguments),
        Command::Check(arguments) => check(arguments),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the database (recovery runs first, as for a server), checks its
/// indexes in a snapshot and prints what was checked.
fn check(arguments: CheckArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = arguments.storage.config();
    config.autoanalyze.enabled = false;
    let database = Database::open(&config)?;
    let summary = database.check_indexes()?;
    database.shutdown()?;
    writeln!(
        std::io::stdout().lock(),
        "checked {} indexes, {} entries: every index agrees with its table",
        summary.indexes,
        summary.entries
    )?;
    Ok(())
}

/// Opens the database, binds, announces the address and serves until a
/// shutdown signal; returns after the database has been flushed.
fn run(arguments: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    // Statements run on the connections' own threads (`server::serve`),
    // not on the runtime's.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async move {
        // Before anything is announced, so an early SIGTERM is handled.
        let signal = ShutdownSignal::install()?;
        let mut config = arguments.storage.config();
        config.autoanalyze = AutoAnalyze {
            enabled: !arguments.no_autoanalyze,
            threshold: arguments.autoanalyze_threshold,
            scale_factor: arguments.autoanalyze_scale_factor,
            naptime: std::time::Duration::from_secs(arguments.autoanalyze_naptime.max(1)),
        };
        tracing::info!(data_dir = %arguments.storage.data_dir.display(), "opening database");
        // Opening may replay logs from disk: keep it off the async threads.
        let database = tokio::task::spawn_blocking(move || Database::open(&config)).await??;
        let listener = TcpListener::bind(&arguments.listen).await?;
        let address = listener.local_addr()?;
        tracing::info!(%address, "listening");
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {address}")?;
        stdout.flush()?;
        drop(stdout);
        let settings = ServerSettings {
            max_connections: arguments.max_connections,
        };
        serve_with(database, listener, signal.wait(), settings).await?;
        tracing::info!("shut down cleanly");
        Ok::<(), Box<dyn std::error::Error>>(())
    });
    // Blocking work of the runtime's own (opening, the final flush) has
    // ended by now; do not let anything else hold the process open.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    result
}
