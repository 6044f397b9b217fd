//! Durability benchmark: durable commits per second of small
//! transactions with 1, 8 and 32 concurrent committers, next to the disk's
//! own fdatasync rate and SQLite (WAL mode, `synchronous = FULL`) measured in
//! the same run; then point lookups and range scans with the buffer pool at
//! 10% and 100% of the data, against SQLite with the same cache sizes.
//!
//! Run: `cargo bench --bench durability` (`BASALT_BENCH_SECONDS` per
//! measurement, default 3; `BASALT_BENCH_ONLY=commits` or `reads` for one
//! half, `BASALT_BENCH_PAIRS` for the paired 1-vs-32 speed-up runs, and
//! `BASALT_BENCH_COMMITTERS=32` for one concurrency level, e.g.
//! under a profiler). Results go to `docs/benchmarks.md` by hand, with
//! the machine.
//!
//! The paired speed-up runs twice: on the real disk, and on a device with a
//! fixed sync latency (`BASALT_BENCH_LATENCY_US`, default 100; files on
//! tmpfs, each sync a sleep), which shows what the group commit does when
//! a sync costs the same whatever it carries and whoever else is syncing.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use basalt::Config;
use basalt::error::Result;
use basalt::storage::vfs::{FileSystem, OsFileSystem, StorageFile};
use basalt::storage::{BTreeEngine, Engine, KeyRange};
use basalt::txn::{IsolationLevel, Mvcc};

fn seconds() -> Duration {
    let seconds = std::env::var("BASALT_BENCH_SECONDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(seconds)
}

/// Runs `work` on `threads` threads for the measurement time; returns
/// operations per second. `work` returns how many operations it did.
fn measure(threads: usize, work: impl Fn(usize, u64) -> u64 + Sync) -> f64 {
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let (stop, done, work) = (&stop, &done, &work);
            scope.spawn(move || {
                let mut round = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    done.fetch_add(work(thread, round), Ordering::Relaxed);
                    round += 1;
                }
            });
        }
        std::thread::sleep(seconds());
        stop.store(true, Ordering::Relaxed);
    });
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Runs `work` on this thread for the measurement time; operations per second.
fn measure_here(mut work: impl FnMut(u64)) -> f64 {
    let started = Instant::now();
    let mut round = 0u64;
    while started.elapsed() < seconds() {
        work(round);
        round += 1;
    }
    round as f64 / started.elapsed().as_secs_f64()
}

/// The physical limit: 100-byte writes into a preallocated, synced file
/// (as the WAL writes into its zero-filled segments), each followed by
/// fdatasync.
fn fdatasync_rate(dir: &Path) -> f64 {
    use std::io::Write;
    let mut file = std::fs::File::create(dir.join("fdatasync.bench")).expect("create");
    let megabyte = vec![0u8; 1 << 20];
    for _ in 0..64 {
        file.write_all(&megabyte).expect("preallocate");
    }
    file.sync_all().expect("sync");
    let payload = [7u8; 100];
    measure_here(|round| {
        let offset = (round * 100) % (63 << 20);
        std::os::unix::fs::FileExt::write_all_at(&file, &payload, offset).expect("write");
        file.sync_data().expect("fdatasync");
    })
}

/// A device whose syncs all take the same time: the OS file system on
/// tmpfs (where the sync itself costs next to nothing) plus a sleep in
/// every sync.
struct FixedLatency {
    latency: Duration,
}

struct FixedLatencyFile {
    inner: Arc<dyn StorageFile>,
    latency: Duration,
}

impl FileSystem for FixedLatency {
    fn open(&self, path: &Path) -> Result<Arc<dyn StorageFile>> {
        Ok(Arc::new(FixedLatencyFile {
            inner: OsFileSystem.open(path)?,
            latency: self.latency,
        }))
    }
    fn remove(&self, path: &Path) -> Result<()> {
        OsFileSystem.remove(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        OsFileSystem.rename(from, to)
    }
    fn list(&self, directory: &Path) -> Result<Vec<std::path::PathBuf>> {
        OsFileSystem.list(directory)
    }
    fn create_dir_all(&self, directory: &Path) -> Result<()> {
        OsFileSystem.create_dir_all(directory)
    }
    fn sync_directory(&self, directory: &Path) -> Result<()> {
        OsFileSystem.sync_directory(directory)
    }
}

impl StorageFile for FixedLatencyFile {
    fn read_at(&self, buffer: &mut [u8], offset: u64) -> Result<usize> {
        self.inner.read_at(buffer, offset)
    }
    fn write_at(&self, buffer: &[u8], offset: u64) -> Result<()> {
        self.inner.write_at(buffer, offset)
    }
    fn sync(&self) -> Result<()> {
        std::thread::sleep(self.latency);
        self.inner.sync()
    }
    fn size(&self) -> Result<u64> {
        self.inner.size()
    }
    fn set_size(&self, length: u64) -> Result<()> {
        self.inner.set_size(length)
    }
}

/// Commits per second, and commits per group flush of the WAL, on the real
/// disk (`file_system` None) or the given one.
fn basalt_commits(
    dir: &Path,
    threads: usize,
    file_system: Option<&Arc<dyn FileSystem>>,
) -> (f64, f64) {
    let config = Config::new(dir);
    let engine = Arc::new(
        match file_system {
            Some(file_system) => BTreeEngine::open_with(&config, Arc::clone(file_system)),
            None => BTreeEngine::open(&config),
        }
        .expect("open"),
    );
    let mvcc = Mvcc::open(Arc::clone(&engine) as Arc<dyn Engine>).expect("mvcc");
    let tree = {
        let mut txn = mvcc.begin(IsolationLevel::RepeatableRead).expect("begin");
        let tree = txn.create_tree().expect("tree");
        txn.commit().expect("commit");
        tree
    };
    let flushes_before = engine.wal().group_flushes();
    let committed = AtomicU64::new(0);
    let rate = measure(threads, |thread, round| {
        committed.fetch_add(1, Ordering::Relaxed);
        let mut txn = mvcc.begin(IsolationLevel::RepeatableRead).expect("begin");
        let key = format!("{thread:03}-{round:09}");
        txn.set(tree, key.as_bytes(), &[42u8; 64]).expect("set");
        // BASALT_BENCH_ASYNC=1: synchronous_commit = off, the CPU ceiling.
        txn.set_synchronous_commit(std::env::var("BASALT_BENCH_ASYNC").as_deref() != Ok("1"));
        txn.commit().expect("commit");
        1
    });
    let flushes = engine.wal().group_flushes() - flushes_before;
    let per_flush = committed.load(Ordering::Relaxed) as f64 / flushes.max(1) as f64;
    (rate, per_flush)
}

/// The group-commit speed-up, 32 committers over one, measured in adjacent
/// pairs so that the disk's drift (its fdatasync rate moves by a fifth
/// within minutes on this VM) hits both sides of each ratio alike; the
/// median of `BASALT_BENCH_PAIRS` pairs (default 5) is the figure.
fn group_commit_speedup(base: &Path, file_system: Option<&Arc<dyn FileSystem>>) {
    let pairs: usize = std::env::var("BASALT_BENCH_PAIRS")
        .map(|text| text.parse().expect("BASALT_BENCH_PAIRS is a number"))
        .unwrap_or(5);
    let mut ratios = Vec::with_capacity(pairs);
    for pair in 1..=pairs {
        let one_dir = tempfile::tempdir_in(base).expect("tempdir");
        let many_dir = tempfile::tempdir_in(base).expect("tempdir");
        let (one, _) = basalt_commits(one_dir.path(), 1, file_system);
        let (many, per_flush) = basalt_commits(many_dir.path(), 32, file_system);
        ratios.push(many / one);
        println!(
            "  pair {pair}: 1 committer {one:.0}/s, 32 committers {many:.0}/s ({per_flush:.1} per flush): {:.2}x",
            many / one
        );
    }
    ratios.sort_by(f64::total_cmp);
    if let Some(median) = ratios.get(ratios.len() / 2) {
        println!("  group-commit speed-up, median of {pairs} pairs: {median:.2}x");
    }
}

fn sqlite_commits(dir: &Path, threads: usize) -> f64 {
    let path = dir.join("commits.sqlite");
    let setup = rusqlite::Connection::open(&path).expect("open");
    setup
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB);",
        )
        .expect("setup");
    let connections: Vec<std::sync::Mutex<rusqlite::Connection>> = (0..threads)
        .map(|_| {
            let connection = rusqlite::Connection::open(&path).expect("open");
            connection
                .execute_batch("PRAGMA synchronous = FULL; PRAGMA busy_timeout = 60000;")
                .expect("pragma");
            std::sync::Mutex::new(connection)
        })
        .collect();
    measure(threads, |thread, round| {
        let connection = connections[thread].lock().expect("connection");
        let key = format!("{thread:03}-{round:09}");
        connection
            .execute(
                "INSERT INTO t VALUES (?1, ?2)",
                rusqlite::params![key, [42u8; 64].as_slice()],
            )
            .expect("insert");
        1
    })
}

const ROWS: u64 = 200_000;
const VALUE: usize = 100;
const RANGE: usize = 100;

fn row_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// Loads ROWS rows into a basalt tree and returns its data pages.
fn basalt_load(dir: &Path) -> u64 {
    let engine = BTreeEngine::open(&Config::new(dir)).expect("open");
    engine.create_tree(100).expect("tree");
    for index in 0..ROWS {
        engine
            .insert(100, &row_key(index), &[index as u8; VALUE])
            .expect("insert");
    }
    engine.tree_pages(100).expect("pages")
}

fn basalt_reads(dir: &Path, pool_pages: usize) -> (f64, f64) {
    let engine =
        BTreeEngine::open(&Config::new(dir).with_buffer_pool_pages(pool_pages)).expect("open");
    let mix = |round: u64| round.wrapping_mul(0x9E37_79B9_7F4A_7C15) % ROWS;
    let lookups = measure_here(|round| {
        engine
            .get(100, &row_key(mix(round)))
            .expect("get")
            .expect("present");
    });
    let scans = measure_here(|round| {
        let start = mix(round).min(ROWS - RANGE as u64);
        let range = KeyRange {
            start: std::ops::Bound::Included(row_key(start).to_vec()),
            end: std::ops::Bound::Unbounded,
        };
        let rows = engine
            .scan_batch(100, &range, basalt::storage::Direction::Forward, RANGE)
            .expect("scan");
        assert_eq!(rows.len(), RANGE);
    });
    (lookups, scans)
}

fn sqlite_load(dir: &Path) -> u64 {
    let connection = rusqlite::Connection::open(dir.join("reads.sqlite")).expect("open");
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB); BEGIN;",
        )
        .expect("setup");
    {
        let mut insert = connection
            .prepare("INSERT INTO t VALUES (?1, ?2)")
            .expect("prepare");
        for index in 0..ROWS {
            insert
                .execute(rusqlite::params![index as i64, vec![index as u8; VALUE]])
                .expect("insert");
        }
    }
    connection
        .execute_batch("COMMIT; PRAGMA wal_checkpoint(TRUNCATE);")
        .expect("commit");
    connection
        .query_row("PRAGMA page_count", [], |row| row.get::<_, i64>(0))
        .expect("page count") as u64
}

fn sqlite_reads(dir: &Path, cache_kib: u64) -> (f64, f64) {
    let connection = rusqlite::Connection::open(dir.join("reads.sqlite")).expect("open");
    connection
        .execute_batch(&format!(
            "PRAGMA cache_size = -{cache_kib}; PRAGMA mmap_size = 0;"
        ))
        .expect("pragma");
    let mix = |round: u64| round.wrapping_mul(0x9E37_79B9_7F4A_7C15) % ROWS;
    let mut lookup = connection
        .prepare("SELECT v FROM t WHERE k = ?1")
        .expect("prepare");
    let lookups = measure_here(|round| {
        let value: Vec<u8> = lookup
            .query_row([mix(round) as i64], |row| row.get(0))
            .expect("lookup");
        assert_eq!(value.len(), VALUE);
    });
    let mut scan = connection
        .prepare("SELECT k, v FROM t WHERE k >= ?1 ORDER BY k LIMIT 100")
        .expect("prepare");
    let scans = measure_here(|round| {
        let start = mix(round).min(ROWS - RANGE as u64);
        let rows = scan
            .query_map([start as i64], |row| row.get::<_, Vec<u8>>(1))
            .expect("scan")
            .count();
        assert_eq!(rows, RANGE);
    });
    (lookups, scans)
}

fn main() {
    // Benchmark files live beside the build, on the same disk as the data
    // a user would have (not a tmpfs).
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tempfile::tempdir_in(base).expect("tempdir");
    println!(
        "durable commits per second (small transactions), {:?} each",
        seconds()
    );
    let fsync = fdatasync_rate(dir.path());
    println!("  fdatasync rate of this disk: {fsync:.0}/s");
    println!(
        "  {:>10} {:>12} {:>12} {:>10} {:>12} {:>10}",
        "committers", "basalt", "sqlite", "vs sqlite", "vs 1 fsync", "per flush"
    );
    let mut one = 0.0;
    let levels: Vec<usize> = match std::env::var("BASALT_BENCH_COMMITTERS") {
        Ok(text) => vec![text.parse().expect("BASALT_BENCH_COMMITTERS is a number")],
        Err(_) => vec![1, 8, 32],
    };
    let only = std::env::var("BASALT_BENCH_ONLY").unwrap_or_default();
    for threads in levels.into_iter().filter(|_| only != "reads") {
        let basalt_dir = tempfile::tempdir_in(base).expect("tempdir");
        let sqlite_dir = tempfile::tempdir_in(base).expect("tempdir");
        let (basalt, per_flush) = basalt_commits(basalt_dir.path(), threads, None);
        // BASALT_BENCH_SQLITE=0 skips SQLite (for profiling basalt alone).
        let sqlite = if std::env::var("BASALT_BENCH_SQLITE").as_deref() == Ok("0") {
            f64::NAN
        } else {
            sqlite_commits(sqlite_dir.path(), threads)
        };
        if threads == 1 {
            one = basalt;
        }
        println!(
            "  {threads:>10} {basalt:>12.0} {sqlite:>12.0} {:>9.2}x {:>11.2}x {per_flush:>10.1}",
            basalt / sqlite,
            basalt / fsync
        );
    }
    if one > 0.0 {
        println!(
            "  1-committer rate {one:.0}/s: the 32-committer row divided by it is the group-commit speed-up"
        );
    }
    if only != "reads" && std::env::var("BASALT_BENCH_COMMITTERS").is_err() {
        println!("group commit on this disk:");
        group_commit_speedup(base, None);
        let tmpfs = Path::new("/dev/shm");
        if tmpfs.is_dir() {
            let latency = Duration::from_micros(
                std::env::var("BASALT_BENCH_LATENCY_US")
                    .map(|text| text.parse().expect("BASALT_BENCH_LATENCY_US is a number"))
                    .unwrap_or(100),
            );
            println!(
                "group commit on a device with a fixed sync latency ({latency:?} sleep, tmpfs):"
            );
            let file_system: Arc<dyn FileSystem> = Arc::new(FixedLatency { latency });
            group_commit_speedup(tmpfs, Some(&file_system));
        }
    }
    if only == "commits" {
        return;
    }
    println!(
        "point lookups and {RANGE}-row range scans per second, {ROWS} rows of {VALUE} bytes, one thread"
    );
    let basalt_dir = tempfile::tempdir_in(base).expect("tempdir");
    let basalt_pages = basalt_load(basalt_dir.path());
    let sqlite_pages = sqlite_load(dir.path());
    println!("  data: basalt {basalt_pages} pages of 8 KiB, sqlite {sqlite_pages} pages of 4 KiB");
    println!(
        "  {:>6} {:>14} {:>14} {:>8} {:>14} {:>14} {:>8}",
        "pool", "basalt get", "sqlite get", "ratio", "basalt scan", "sqlite scan", "ratio"
    );
    for percent in [10u64, 100] {
        let pool_pages =
            ((basalt_pages * percent / 100) as usize).max(64) + if percent == 100 { 64 } else { 0 };
        let cache_kib =
            (sqlite_pages * 4 * percent / 100).max(256) + if percent == 100 { 256 } else { 0 };
        let (basalt_get, basalt_scan) = basalt_reads(basalt_dir.path(), pool_pages);
        let (sqlite_get, sqlite_scan) = sqlite_reads(dir.path(), cache_kib);
        println!(
            "  {percent:>5}% {basalt_get:>14.0} {sqlite_get:>14.0} {:>7.2}x {basalt_scan:>14.0} {sqlite_scan:>14.0} {:>7.2}x",
            basalt_get / sqlite_get,
            basalt_scan / sqlite_scan
        );
    }
}
