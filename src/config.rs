//! Configuration of a basalt instance: where the data lives, how big the
//! buffer pool is, and when checkpoints run. The server fills it from flags
//! and environment variables.

use std::path::PathBuf;
use std::time::Duration;

/// The default number of 8 KiB pages in the buffer pool (128 MiB).
pub const DEFAULT_BUFFER_POOL_PAGES: usize = 16 * 1024;

/// Settings for opening a database.
#[derive(Clone, Debug)]
pub struct Config {
    /// The directory holding the data file, the control file, the WAL and
    /// `tmp/`, the queries' spill files ([`Config::spill_dir`]).
    pub data_dir: PathBuf,
    /// Capacity of the buffer pool, in pages.
    pub buffer_pool_pages: usize,
    /// A checkpoint starts at least this often (PostgreSQL's
    /// `checkpoint_timeout`, default 5 minutes).
    pub checkpoint_interval: Duration,
    /// A checkpoint starts once this much WAL was written since the last one
    /// began (PostgreSQL's `max_wal_size` plays this role).
    pub max_wal_size: u64,
    /// The size of one WAL segment file.
    pub wal_segment_size: u64,
    /// How often the background writer makes asynchronous commits durable
    /// (PostgreSQL's `wal_writer_delay`); bounds what `synchronous_commit =
    /// off` can lose.
    pub wal_writer_delay: Duration,
    /// When tables are analyzed again on their own.
    pub autoanalyze: AutoAnalyze,
}

/// Automatic `ANALYZE` (autovacuum's analyze in PostgreSQL, with its
/// defaults): every `naptime`, each table whose committed row changes since
/// its last analysis exceed `threshold + scale_factor × rows` is analyzed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AutoAnalyze {
    pub enabled: bool,
    /// `autovacuum_analyze_threshold`.
    pub threshold: u64,
    /// `autovacuum_analyze_scale_factor`.
    pub scale_factor: f64,
    /// `autovacuum_naptime`.
    pub naptime: Duration,
}

impl Default for AutoAnalyze {
    fn default() -> AutoAnalyze {
        AutoAnalyze {
            enabled: true,
            threshold: 50,
            scale_factor: 0.1,
            naptime: Duration::from_secs(60),
        }
    }
}

impl Config {
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            buffer_pool_pages: DEFAULT_BUFFER_POOL_PAGES,
            checkpoint_interval: Duration::from_secs(300),
            max_wal_size: 256 * 1024 * 1024,
            wal_segment_size: 16 * 1024 * 1024,
            wal_writer_delay: Duration::from_millis(200),
            autoanalyze: AutoAnalyze::default(),
        }
    }

    /// Where queries spill rows beyond `work_mem`: `<data_dir>/tmp`,
    /// emptied whenever the database opens.
    pub fn spill_dir(&self) -> PathBuf {
        self.data_dir.join("tmp")
    }

    pub fn with_buffer_pool_pages(mut self, pages: usize) -> Config {
        self.buffer_pool_pages = pages;
        self
    }

    pub fn with_checkpoint_interval(mut self, interval: Duration) -> Config {
        self.checkpoint_interval = interval;
        self
    }

    pub fn with_max_wal_size(mut self, bytes: u64) -> Config {
        self.max_wal_size = bytes;
        self
    }

    pub fn with_wal_segment_size(mut self, bytes: u64) -> Config {
        self.wal_segment_size = bytes;
        self
    }
}
