//! Configuration of a basalt instance: where the data lives and how big the
//! buffer pool is. The server fills it from flags and environment variables.

use std::path::PathBuf;

/// The default number of 8 KiB pages in the buffer pool (128 MiB).
pub const DEFAULT_BUFFER_POOL_PAGES: usize = 16 * 1024;

/// Settings for opening a database.
#[derive(Clone, Debug)]
pub struct Config {
    /// The directory holding the data file.
    pub data_dir: PathBuf,
    /// Capacity of the buffer pool, in pages.
    pub buffer_pool_pages: usize,
}

impl Config {
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            buffer_pool_pages: DEFAULT_BUFFER_POOL_PAGES,
        }
    }

    pub fn with_buffer_pool_pages(mut self, pages: usize) -> Config {
        self.buffer_pool_pages = pages;
        self
    }
}
