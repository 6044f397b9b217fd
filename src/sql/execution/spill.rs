//! Spilling: how memory-hungry operators stay within `work_mem`.
//!
//! Operators that must hold rows keep an estimate of the bytes they hold
//! ([`row_size`]) and, past the session's `work_mem` (`SET work_mem`,
//! default 4 MB as in PostgreSQL), move rows to temporary files instead of
//! growing. This module is what they share: where the files live, the file
//! format, and the building blocks.
//!
//! ```text
//!   SpillSpace  <data_dir>/tmp/ (or a fresh directory under the system's
//!     │         temporary directory for an in-memory database)
//!     │ create
//!     ▼
//!   RowWriter ──finish──► RowFile ──reader[_at]──► RowReader ──next_row──► Row
//!     (buffered appends;   (immutable; any         (a sequential pass from
//!      a Mark per row)      number of readers)      the start or a Mark)
//!
//!   built from those:
//!   RowBuffer    rows in memory until the limit, then all of them in one
//!                file with a Mark every MARK_EVERY rows; any row read back
//!                through a RowCursor, as often as needed
//!   Partitioner  rows into `fan_out` files by a hash of their key values,
//!                a different hash at every level of recursion
//!   (sort.rs)    Sorter: sorted runs in one file, merged
//!   (byte_sort.rs) ByteSorter: byte strings in sorted runs, merged
//! ```
//!
//! Who uses what:
//!
//! | operator | beyond `work_mem` |
//! |---|---|
//! | ORDER BY (`sort.rs`) | external merge sort of `Sorter` runs |
//! | hash aggregation (`aggregate.rs`) | new groups to a `Partitioner`, each partition aggregated after; DISTINCT/ORDER BY inputs to `Sorter`s |
//! | DISTINCT, UNION (`distinct.rs`) | new rows to a `Partitioner`, each partition deduplicated after |
//! | INTERSECT, EXCEPT (`set_operation.rs`) | both inputs to `Partitioner`s, pair by pair |
//! | hash join (`hash_join.rs`) | Grace: both inputs to `Partitioner`s, pair by pair, a block nested loop for a pair that will not split |
//! | nested loop join (`join.rs`) | the right rows in a `RowBuffer`: a block nested loop |
//! | window functions (`window.rs`) | a `Sorter` per window, each partition in a `RowBuffer` |
//! | CTEs (`cte.rs`) | a materialized CTE and each work table in a `RowBuffer` |
//! | index builds (`byte_sort.rs`) | sorted runs of entries beyond `maintenance_work_mem`, merged |
//!
//! A record in a spill file is `length u32 | crc32c u32 | payload`
//! (little-endian), the payload a row's `encode_row` bytes or, for
//! [`RowWriter::write_record`], bytes its writer chose. The CRC makes a
//! file that reads back different from what was written an error rather
//! than wrong rows: a spill file is never read by another process, so any
//! difference is corruption.
//!
//! Invariants:
//!
//! 1. **A spill file lives exactly as long as its handles.** A file is
//!    created by [`RowWriter::create`] and removed when the last of its
//!    writer, [`RowFile`] clones and [`RowReader`]s is dropped. Operators
//!    own their files, and a query's operators are dropped when the query
//!    ends, by completion, by error, or when its portal is closed, so files
//!    go with the query. A crash leaves files behind; `Database::open`
//!    empties `<data_dir>/tmp/` (nothing in it can belong to a live query,
//!    since the process that wrote it is gone).
//! 2. **The directory outlives its files.** Every file handle holds the
//!    [`SpillSpace`]; a temporary directory (in-memory databases, or a
//!    `QueryState` without a space) is removed when the space is dropped,
//!    which is after its last file.
//! 3. **Reading back is checked.** A reader knows how many rows and bytes
//!    were written: a short file, a record whose CRC does not match, or
//!    bytes that do not decode is [`Error::Corrupt`], never a panic or
//!    a silently different row. Operating-system failures are
//!    [`Error::Io`].
//! 4. **Equal keys land in equal partitions.** [`partition_hash`] hashes
//!    with `Value`'s `Hash`, which agrees with its `Eq` across numeric
//!    types (`1::int` and `1::bigint` hash alike), so a join or a set
//!    operation may partition its two inputs separately and process
//!    partition `i` of one with partition `i` of the other only. The hash
//!    depends on the level, so rows that shared a partition at level `n`
//!    spread over the partitions of level `n + 1`.
//! 5. **Memory is an estimate.** [`row_size`] counts what a row's `Vec`
//!    and its values allocate, with the allocator's per-block overhead;
//!    hash tables add [`ENTRY_OVERHEAD`] per entry. Buffers of open files
//!    (8 KiB each, at most [`MAX_FAN_OUT`] files per partitioning step or
//!    merge) come on top, so an operator's peak is `work_mem` plus a
//!    bounded constant; a spilled [`RowBuffer`] adds its marks, 16 bytes
//!    per [`MARK_EVERY`] rows (190 KB for 1.5 million rows).
//!
//! The operators get their space from [`super::Context::spill_space`] and
//! their limit from [`super::Context::work_mem`].

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hash, Hasher};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::sql::encoding::{decode_row, encode_row};
use crate::sql::types::{Row, Value};

/// The buffer of one open spill file, for reading or writing.
pub const SPILL_BUFFER: usize = 8 * 1024;

/// The most files one partitioning step or merge has open at once.
pub const MAX_FAN_OUT: usize = 64;

/// The fewest partitions a partitioning step makes.
pub const MIN_FAN_OUT: usize = 8;

/// Estimated bytes a hash table spends per entry beyond the entry's own
/// values (control bytes, the slot's spare capacity, an index or count).
pub const ENTRY_OVERHEAD: usize = 16;

/// The number of partitions (or merge inputs) for `work_mem`: as many
/// 8 KiB file buffers as fit in `work_mem`, between [`MIN_FAN_OUT`] and
/// [`MAX_FAN_OUT`].
pub fn fan_out(work_mem: usize) -> usize {
    (work_mem / SPILL_BUFFER).clamp(MIN_FAN_OUT, MAX_FAN_OUT)
}

/// What the allocator spends on each heap block beyond its bytes
/// (glibc malloc: a 16-byte header and rounding).
pub const ALLOCATION_OVERHEAD: usize = 16;

/// Estimated heap bytes of a row: the `Vec` header and its block, a
/// `Value` per column, and each text's shared block (its two reference
/// counts and bytes), counted in full by every row that holds it.
pub fn row_size(row: &[Value]) -> usize {
    let mut bytes = std::mem::size_of::<Row>() + std::mem::size_of_val(row) + ALLOCATION_OVERHEAD;
    for value in row {
        if let Value::Text(text) = value {
            bytes += TEXT_COUNTS + text.len() + ALLOCATION_OVERHEAD;
        }
    }
    bytes
}

/// The reference counts at the head of a text's block.
const TEXT_COUNTS: usize = 2 * std::mem::size_of::<usize>();

/// The hash that picks a row's partition at `level` of a recursive
/// partitioning (invariant 4).
pub fn partition_hash(level: u32, key: &[Value]) -> u64 {
    // The hasher's seeds are fixed for the process: the same key hashes the
    // same in both inputs of one query, which is all partitioning needs.
    let mut hasher = crate::hash::FastHashState.build_hasher();
    level.hash(&mut hasher);
    key.hash(&mut hasher);
    hasher.finish()
}

/// Where a database's spill files go (see the module docs).
#[derive(Debug)]
pub struct SpillSpace {
    directory: Directory,
    next_file: AtomicU64,
}

#[derive(Debug)]
enum Directory {
    /// `<data_dir>/tmp`: kept; emptied when the database opens.
    Fixed(PathBuf),
    /// Made on first use under the system's temporary directory, removed
    /// with the space.
    Temporary(Mutex<Option<PathBuf>>),
}

/// Distinguishes the temporary directories of one process.
static NEXT_DIRECTORY: AtomicU64 = AtomicU64::new(0);

impl SpillSpace {
    /// The space in `directory` (`<data_dir>/tmp`), created if missing and
    /// emptied: whatever is in it was left by queries of a previous process.
    pub fn open(directory: impl Into<PathBuf>) -> Result<Arc<SpillSpace>> {
        let directory = directory.into();
        fs::create_dir_all(&directory)?;
        for entry in fs::read_dir(&directory)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                fs::remove_dir_all(&path)?;
            } else {
                fs::remove_file(&path)?;
            }
        }
        Ok(Arc::new(SpillSpace {
            directory: Directory::Fixed(directory),
            next_file: AtomicU64::new(0),
        }))
    }

    /// A space in a fresh directory under the system's temporary
    /// directory, made when the first file is and removed with the space.
    pub fn temporary() -> Arc<SpillSpace> {
        Arc::new(SpillSpace {
            directory: Directory::Temporary(Mutex::new(None)),
            next_file: AtomicU64::new(0),
        })
    }

    /// The directory, if it exists yet.
    pub fn directory(&self) -> Option<PathBuf> {
        match &self.directory {
            Directory::Fixed(path) => Some(path.clone()),
            Directory::Temporary(path) => path.lock().clone(),
        }
    }

    /// The directory, made now if it is a temporary one not made yet.
    fn ensure_directory(&self) -> Result<PathBuf> {
        match &self.directory {
            Directory::Fixed(path) => Ok(path.clone()),
            Directory::Temporary(slot) => {
                let mut slot = slot.lock();
                if let Some(path) = &*slot {
                    return Ok(path.clone());
                }
                let base = std::env::temp_dir();
                loop {
                    let n = NEXT_DIRECTORY.fetch_add(1, Ordering::Relaxed);
                    let path = base.join(format!("basalt-spill-{}-{n}", std::process::id()));
                    match fs::create_dir(&path) {
                        Ok(()) => {
                            *slot = Some(path.clone());
                            return Ok(path);
                        }
                        // Left by an earlier process with our pid: try the
                        // next name.
                        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
                        Err(error) => return Err(error.into()),
                    }
                }
            }
        }
    }

    /// A new, empty file, removed when the returned path is dropped.
    fn create_file(self: &Arc<Self>) -> Result<(Arc<SpillPath>, File)> {
        let directory = self.ensure_directory()?;
        let n = self.next_file.fetch_add(1, Ordering::Relaxed);
        let path = directory.join(format!("spill-{}-{n}", std::process::id()));
        // create_new: a name clash is an error, never two writers in one file.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok((
            Arc::new(SpillPath {
                path,
                _space: Arc::clone(self),
            }),
            file,
        ))
    }
}

impl Drop for SpillSpace {
    fn drop(&mut self) {
        if let Directory::Temporary(slot) = &self.directory
            && let Some(path) = slot.lock().take()
            && let Err(error) = fs::remove_dir_all(&path)
            && error.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(%error, path = %path.display(), "removing a spill directory");
        }
    }
}

/// A spill file's name; the file is removed when this is dropped
/// (invariant 1). Holds the space so the directory outlives the file
/// (invariant 2).
#[derive(Debug)]
struct SpillPath {
    path: PathBuf,
    _space: Arc<SpillSpace>,
}

impl Drop for SpillPath {
    fn drop(&mut self) {
        if let Err(error) = fs::remove_file(&self.path)
            && error.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(%error, path = %self.path.display(), "removing a spill file");
        }
    }
}

/// The record header: payload length and its CRC32C.
const HEADER: usize = 8;

/// Appends rows to a new spill file.
pub struct RowWriter {
    path: Arc<SpillPath>,
    output: BufWriter<File>,
    rows: u64,
    file_bytes: u64,
    bytes: usize,
}

impl RowWriter {
    /// A writer to a new file in `space`.
    pub fn create(space: &Arc<SpillSpace>) -> Result<RowWriter> {
        let (path, file) = space.create_file()?;
        Ok(RowWriter {
            path,
            output: BufWriter::with_capacity(SPILL_BUFFER, file),
            rows: 0,
            file_bytes: 0,
            bytes: 0,
        })
    }

    /// Appends `row`; `bytes` is what it will cost in memory once read
    /// back, as the caller accounts it (usually [`row_size`]), summed in
    /// [`RowFile::bytes`].
    pub fn write(&mut self, row: &[Value], bytes: usize) -> Result<()> {
        self.write_record(&encode_row(row), bytes)
    }

    /// Appends one record of raw bytes (read back with
    /// [`RowReader::next_record`]); `bytes` as for [`RowWriter::write`].
    pub fn write_record(&mut self, payload: &[u8], bytes: usize) -> Result<()> {
        let length = u32::try_from(payload.len())
            .map_err(|_| Error::Internal("a record of more than 4 GiB to spill".into()))?;
        self.output.write_all(&length.to_le_bytes())?;
        self.output
            .write_all(&crc32c::crc32c(payload).to_le_bytes())?;
        self.output.write_all(payload)?;
        self.rows += 1;
        self.file_bytes += (HEADER + payload.len()) as u64;
        self.bytes += bytes;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Where the next row goes: read from here with [`RowFile::reader_at`].
    pub fn mark(&self) -> Mark {
        Mark {
            row: self.rows,
            offset: self.file_bytes,
        }
    }

    /// Flushes and closes the file for reading.
    pub fn finish(self) -> Result<RowFile> {
        let RowWriter {
            path,
            mut output,
            rows,
            file_bytes,
            bytes,
        } = self;
        output.flush()?;
        // Readers open the file by name; this handle is done.
        drop(output);
        Ok(RowFile {
            path,
            rows,
            file_bytes,
            bytes,
        })
    }
}

/// A finished spill file: read it any number of times. Clones share the
/// file, which goes when the last clone and reader are dropped.
#[derive(Clone)]
pub struct RowFile {
    path: Arc<SpillPath>,
    rows: u64,
    file_bytes: u64,
    bytes: usize,
}

impl std::fmt::Debug for RowFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RowFile({} rows, {} bytes)", self.rows, self.file_bytes)
    }
}

impl RowFile {
    /// The number of rows in the file.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The summed in-memory estimate its writer was given.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// A reader from the first row.
    pub fn reader(&self) -> Result<RowReader> {
        self.reader_at(Mark { row: 0, offset: 0 })
    }

    /// A reader from the row at `mark` (taken while writing this file).
    pub fn reader_at(&self, mark: Mark) -> Result<RowReader> {
        let file = File::open(&self.path.path)?;
        let mut reader = RowReader {
            _path: Arc::clone(&self.path),
            input: BufReader::with_capacity(SPILL_BUFFER, file),
            rows_left: self.rows,
            bytes_left: self.file_bytes,
            buffer: Vec::new(),
        };
        if mark.offset > 0 {
            self.seek(&mut reader, mark)?;
        }
        Ok(reader)
    }

    /// A reader of the `rows` rows from `mark` on.
    pub fn reader_for(&self, mark: Mark, rows: u64) -> Result<RowReader> {
        let mut reader = self.reader_at(mark)?;
        if rows > reader.rows_left {
            return Err(Error::Internal(format!(
                "{rows} rows from {mark:?} of a spill file of {} rows",
                self.rows
            )));
        }
        reader.rows_left = rows;
        Ok(reader)
    }

    /// Moves a reader of this file to the row at `mark`.
    pub fn seek(&self, reader: &mut RowReader, mark: Mark) -> Result<()> {
        if !Arc::ptr_eq(&reader._path, &self.path)
            || mark.row > self.rows
            || mark.offset > self.file_bytes
        {
            return Err(Error::Internal(format!(
                "{mark:?} is not a row of this spill file of {} rows",
                self.rows
            )));
        }
        reader.input.seek(SeekFrom::Start(mark.offset))?;
        reader.rows_left = self.rows - mark.row;
        reader.bytes_left = self.file_bytes - mark.offset;
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path.path
    }
}

/// A row's place in a spill file: its index and its byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub row: u64,
    pub offset: u64,
}

/// One sequential pass over a [`RowFile`] (invariant 3).
pub struct RowReader {
    /// Keeps the file (invariant 1); which file it reads.
    _path: Arc<SpillPath>,
    input: BufReader<File>,
    rows_left: u64,
    bytes_left: u64,
    buffer: Vec<u8>,
}

impl RowReader {
    /// The next row, or `None` after the last.
    pub fn next_row(&mut self) -> Result<Option<Row>> {
        match self.next_record()? {
            Some(payload) => decode_row(payload).map(Some),
            None => Ok(None),
        }
    }

    /// The next record's bytes, as [`RowWriter::write_record`] wrote them,
    /// or `None` after the last.
    pub fn next_record(&mut self) -> Result<Option<&[u8]>> {
        if self.rows_left == 0 {
            return Ok(None);
        }
        let mut header = [0u8; HEADER];
        read_exact(&mut self.input, &mut header)?;
        let [l0, l1, l2, l3, c0, c1, c2, c3] = header;
        let length = u32::from_le_bytes([l0, l1, l2, l3]) as u64;
        let crc = u32::from_le_bytes([c0, c1, c2, c3]);
        if HEADER as u64 + length > self.bytes_left {
            return Err(Error::Corrupt(format!(
                "spill file record of {length} bytes runs past the {} bytes written",
                self.bytes_left
            )));
        }
        self.buffer.resize(length as usize, 0);
        read_exact(&mut self.input, &mut self.buffer)?;
        if crc32c::crc32c(&self.buffer) != crc {
            return Err(Error::Corrupt("spill file record checksum mismatch".into()));
        }
        self.rows_left -= 1;
        self.bytes_left -= HEADER as u64 + length;
        Ok(Some(&self.buffer))
    }
}

/// `read_exact` with a short file reported as corruption: the writer
/// wrote every byte the reader expects.
fn read_exact(input: &mut impl Read, buffer: &mut [u8]) -> Result<()> {
    input.read_exact(buffer).map_err(|error| {
        if error.kind() == io::ErrorKind::UnexpectedEof {
            Error::Corrupt("spill file ends before its last row".into())
        } else {
            Error::Io(error)
        }
    })
}

/// A [`RowBuffer`] that spilled keeps a [`Mark`] every this many rows, so
/// that a cursor can reach any row by reading at most this many.
pub const MARK_EVERY: u64 = 128;

/// Rows kept in memory up to a limit; past it, all of them in one file
/// (never a mix). Once sealed, [`RowBuffer::get`] reads any row through a
/// [`RowCursor`]: in memory by index; from the file by reading on from
/// the cursor's last row, or, for a row behind it or far ahead, by
/// moving its reader to the nearest mark.
pub struct RowBuffer {
    space: Arc<SpillSpace>,
    limit: usize,
    rows: Vec<Row>,
    bytes: usize,
    len: u64,
    writer: Option<RowWriter>,
    file: Option<RowFile>,
    /// The mark of every [`MARK_EVERY`]th row of the file.
    marks: Vec<Mark>,
}

/// What a [`RowBuffer`] holds, taken out of it.
#[derive(Debug)]
pub enum BufferedRows {
    Memory(Vec<Row>),
    File(RowFile),
}

/// A position in a [`RowBuffer`]'s file, with the rows read last.
#[derive(Default)]
pub struct RowCursor {
    reader: Option<RowReader>,
    /// The position of the row the reader returns next.
    next: u64,
    /// The rows before `next`, newest last, with their sizes: at least the
    /// last one read, at most `budget` bytes beyond it.
    recent: VecDeque<(Row, usize)>,
    bytes: usize,
    budget: usize,
}

impl RowCursor {
    /// A cursor keeping up to `budget` estimated bytes of the rows it read
    /// last (beyond the last one), so that reading again a little behind
    /// needs no reopening. (A buffer in memory needs no cursor state.)
    pub fn new(budget: usize) -> RowCursor {
        RowCursor {
            budget,
            ..RowCursor::default()
        }
    }

    /// The position of the oldest row kept.
    fn first(&self) -> u64 {
        self.next - self.recent.len() as u64
    }
}

impl RowBuffer {
    /// An empty buffer keeping at most `limit` estimated bytes in memory.
    pub fn new(space: Arc<SpillSpace>, limit: usize) -> RowBuffer {
        RowBuffer {
            space,
            limit,
            rows: Vec::new(),
            bytes: 0,
            len: 0,
            writer: None,
            file: None,
            marks: Vec::new(),
        }
    }

    /// Appends a row. A sealed buffer takes no more rows until
    /// [`RowBuffer::clear`]ed.
    pub fn push(&mut self, row: Row) -> Result<()> {
        if self.file.is_some() {
            return Err(Error::Internal(
                "a row pushed to a sealed spill buffer".into(),
            ));
        }
        if self.writer.is_some() {
            return self.write(&row);
        }
        self.len += 1;
        self.bytes += row_size(&row);
        self.rows.push(row);
        if self.bytes > self.limit {
            self.writer = Some(RowWriter::create(&self.space)?);
            self.len = 0;
            // Give the memory back, not just the rows.
            for row in std::mem::take(&mut self.rows) {
                self.write(&row)?;
            }
            self.bytes = 0;
        }
        Ok(())
    }

    /// Writes a row to the file, marking every [`MARK_EVERY`]th.
    fn write(&mut self, row: &[Value]) -> Result<()> {
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| Error::Internal("a spill buffer without its file".into()))?;
        if self.len.is_multiple_of(MARK_EVERY) {
            self.marks.push(writer.mark());
        }
        self.len += 1;
        writer.write(row, 0)
    }

    /// Rows pushed since the last clear.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the rows went to a file.
    #[cfg(test)]
    pub fn is_spilled(&self) -> bool {
        self.writer.is_some() || self.file.is_some()
    }

    /// Ends the pushes: closes the file of a spilled buffer for reading.
    pub fn seal(&mut self) -> Result<()> {
        if let Some(writer) = self.writer.take() {
            self.file = Some(writer.finish()?);
        }
        Ok(())
    }

    /// The row at `position` (below [`RowBuffer::len`]) of a sealed buffer.
    pub fn get<'a>(&'a self, cursor: &'a mut RowCursor, position: u64) -> Result<&'a Row> {
        if position >= self.len {
            return Err(Error::Internal(format!(
                "row {position} of a spill buffer of {} rows",
                self.len
            )));
        }
        let Some(file) = &self.file else {
            if self.writer.is_some() {
                return Err(Error::Internal("a spill buffer read before sealing".into()));
            }
            return Ok(&self.rows[position as usize]);
        };
        let behind = position < cursor.first();
        let far_ahead = position >= cursor.next + MARK_EVERY;
        let RowCursor {
            reader,
            next,
            recent,
            bytes,
            budget,
        } = cursor;
        let mark = self
            .marks
            .get((position / MARK_EVERY) as usize)
            .copied()
            .ok_or_else(|| Error::Internal(format!("no mark for spilled row {position}")))?;
        let reader = match reader {
            Some(reader) if !behind && !far_ahead => reader,
            Some(reader) => {
                file.seek(reader, mark)?;
                (*next, *bytes) = (mark.row, 0);
                recent.clear();
                reader
            }
            None => {
                (*next, *bytes) = (mark.row, 0);
                recent.clear();
                reader.insert(file.reader_at(mark)?)
            }
        };
        while *next <= position {
            let row = reader
                .next_row()?
                .ok_or_else(|| Error::Corrupt(format!("spill buffer row {next} is missing")))?;
            let size = row_size(&row);
            *next += 1;
            *bytes += size;
            recent.push_back((row, size));
            while *bytes > *budget + size && recent.len() > 1 {
                if let Some((_, old)) = recent.pop_front() {
                    *bytes -= old;
                }
            }
        }
        let index = recent.len() - (*next - position) as usize;
        Ok(&recent[index].0)
    }

    /// Empties the buffer (removing its file) for reuse.
    pub fn clear(&mut self) {
        self.rows.clear();
        self.bytes = 0;
        self.len = 0;
        self.writer = None;
        self.file = None;
        self.marks.clear();
    }

    /// The rows, in memory or in a file.
    pub fn into_rows(mut self) -> Result<BufferedRows> {
        self.seal()?;
        Ok(match self.file.take() {
            Some(file) => BufferedRows::File(file),
            None => BufferedRows::Memory(std::mem::take(&mut self.rows)),
        })
    }
}

/// Rows into `fan_out` files by [`partition_hash`] of a key (invariant
/// 4). A partition's file is made with its first row.
pub struct Partitioner {
    space: Arc<SpillSpace>,
    level: u32,
    writers: Vec<Option<RowWriter>>,
}

impl Partitioner {
    /// A partitioner at recursion `level` (0 for an operator's first).
    pub fn new(space: Arc<SpillSpace>, fan_out: usize, level: u32) -> Partitioner {
        let fan_out = fan_out.max(1);
        Partitioner {
            space,
            level,
            writers: (0..fan_out).map(|_| None).collect(),
        }
    }

    /// The recursion level.
    pub fn level(&self) -> u32 {
        self.level
    }

    /// Writes `row` to the partition of `key`; `bytes` as for
    /// [`RowWriter::write`].
    pub fn push(&mut self, key: &[Value], row: &[Value], bytes: usize) -> Result<()> {
        let partition = (partition_hash(self.level, key) % self.writers.len() as u64) as usize;
        let slot = self
            .writers
            .get_mut(partition)
            .ok_or_else(|| Error::Internal(format!("no spill partition {partition}")))?;
        let writer = match slot {
            Some(writer) => writer,
            None => slot.insert(RowWriter::create(&self.space)?),
        };
        writer.write(row, bytes)
    }

    /// The partitions' files, `None` for a partition without rows.
    pub fn finish(self) -> Result<Vec<Option<RowFile>>> {
        self.writers
            .into_iter()
            .map(|writer| writer.map(RowWriter::finish).transpose())
            .collect()
    }
}

/// Helpers for the operators' spill tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::SpillSpace;
    use crate::error::Result;
    use crate::sql::execution::stream::ValuesOperator;
    use crate::sql::execution::{Context, Operator};
    use crate::sql::expr::Expr;
    use crate::sql::types::Row;

    /// An operator returning `rows`.
    pub(crate) fn values(rows: Vec<Row>) -> Operator {
        Operator::Values(ValuesOperator::new(
            rows.into_iter()
                .map(|row| row.into_iter().map(Expr::Literal).collect())
                .collect(),
        ))
    }

    /// Pulls every row of `operator`, watching the space: returns the rows
    /// and whether files existed while it ran, then drops the operator and
    /// checks that its files went with it.
    pub(crate) fn drain<T>(
        space: &SpillSpace,
        context: &mut Context<'_>,
        mut operator: T,
        next: impl Fn(&mut T, &mut Context<'_>) -> Result<Option<Row>>,
    ) -> (Vec<Row>, bool) {
        let mut rows = Vec::new();
        let mut spilled = false;
        while let Some(row) = next(&mut operator, context).expect("next row") {
            spilled = spilled || files_in(space) > 0;
            rows.push(row);
        }
        drop(operator);
        assert_eq!(files_in(space), 0, "an operator's files go with it");
        (rows, spilled)
    }

    /// Sorts rows by all their values, for comparing multisets.
    pub(crate) fn sort_rows(rows: &mut [Row]) {
        rows.sort_by(|a, b| {
            a.iter()
                .zip(b)
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }

    /// The number of files in the space's directory now.
    pub(crate) fn files_in(space: &SpillSpace) -> usize {
        space
            .directory()
            .map_or(0, |directory| match std::fs::read_dir(directory) {
                Ok(entries) => entries.count(),
                Err(_) => 0,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: i64) -> Row {
        vec![
            Value::BigInt(i),
            Value::Text(format!("row {i}").into()),
            if i % 3 == 0 {
                Value::Null
            } else {
                Value::Double(i as f64 / 2.0)
            },
        ]
    }

    fn read_all(file: &RowFile) -> Result<Vec<Row>> {
        let mut reader = file.reader()?;
        let mut rows = Vec::new();
        while let Some(row) = reader.next_row()? {
            rows.push(row);
        }
        Ok(rows)
    }

    fn entries(directory: &std::path::Path) -> usize {
        fs::read_dir(directory).expect("read_dir").count()
    }

    #[test]
    fn rows_round_trip_and_files_go_with_their_handles() {
        let space = SpillSpace::temporary();
        let mut writer = RowWriter::create(&space).expect("create");
        let directory = space.directory().expect("made with the first file");
        for i in 0..1000 {
            writer.write(&row(i), row_size(&row(i))).expect("write");
        }
        let file = writer.finish().expect("finish");
        assert_eq!(file.rows(), 1000);
        let expected: Vec<Row> = (0..1000).map(row).collect();
        assert_eq!(read_all(&file).expect("read"), expected);
        // A second pass reads the same rows.
        let mut reader = file.reader().expect("reader");
        assert_eq!(reader.next_row().expect("read"), Some(row(0)));
        let copy = file.clone();
        drop(file);
        assert_eq!(entries(&directory), 1, "a clone keeps the file");
        drop(copy);
        assert_eq!(entries(&directory), 1, "an open reader keeps the file");
        assert_eq!(reader.next_row().expect("still readable"), Some(row(1)));
        drop(reader);
        assert_eq!(entries(&directory), 0);
        drop(space);
        assert!(
            !directory.exists(),
            "a temporary space removes its directory"
        );
    }

    #[test]
    fn an_unfinished_writer_removes_its_file() {
        let space = SpillSpace::temporary();
        let mut writer = RowWriter::create(&space).expect("create");
        writer.write(&row(1), 0).expect("write");
        let directory = space.directory().expect("made");
        drop(writer);
        assert_eq!(entries(&directory), 0);
    }

    #[test]
    fn opening_a_fixed_space_empties_it() {
        let base = tempfile::tempdir().expect("tempdir");
        let directory = base.path().join("tmp");
        fs::create_dir_all(directory.join("stale-dir")).expect("mkdir");
        fs::write(directory.join("spill-1-0"), b"left by a crash").expect("write");
        let space = SpillSpace::open(&directory).expect("open");
        assert_eq!(entries(&directory), 0);
        let mut writer = RowWriter::create(&space).expect("create");
        writer.write(&row(1), 0).expect("write");
        let file = writer.finish().expect("finish");
        assert_eq!(entries(&directory), 1);
        drop(file);
        drop(space);
        assert!(directory.exists(), "the data directory's tmp/ stays");
        assert_eq!(entries(&directory), 0);
    }

    #[test]
    fn corrupt_or_short_files_are_errors() {
        let space = SpillSpace::temporary();
        let mut writer = RowWriter::create(&space).expect("create");
        for i in 0..100 {
            writer.write(&row(i), 0).expect("write");
        }
        let file = writer.finish().expect("finish");
        let original = fs::read(file.path()).expect("read");

        // Every single-byte change is caught: in a header, a length or a value.
        for position in [0, 3, 5, 9, 20, original.len() / 2, original.len() - 1] {
            let mut bytes = original.clone();
            bytes[position] ^= 0x40;
            fs::write(file.path(), &bytes).expect("write");
            let error = read_all(&file).expect_err("corruption");
            assert!(matches!(error, Error::Corrupt(_)), "{position}: {error:?}");
        }
        // A truncated file.
        fs::write(file.path(), &original[..original.len() - 7]).expect("write");
        assert!(matches!(read_all(&file), Err(Error::Corrupt(_))));
        // Garbage of a plausible length with a matching CRC still has to
        // decode.
        let payload = [0xffu8, 0xff, 9];
        let mut bytes = (payload.len() as u32).to_le_bytes().to_vec();
        bytes.extend_from_slice(&crc32c::crc32c(&payload).to_le_bytes());
        bytes.extend_from_slice(&payload);
        bytes.resize(original.len(), 0);
        fs::write(file.path(), &bytes).expect("write");
        assert!(matches!(read_all(&file), Err(Error::Corrupt(_))));
        // The intact file reads again.
        fs::write(file.path(), &original).expect("write");
        assert_eq!(read_all(&file).expect("read").len(), 100);
        // A file removed underneath is an I/O error.
        fs::remove_file(file.path()).expect("remove");
        assert!(matches!(file.reader(), Err(Error::Io(_))));
    }

    #[test]
    fn a_buffer_spills_past_its_limit_and_reads_any_row() {
        let space = SpillSpace::temporary();
        let mut small = RowBuffer::new(Arc::clone(&space), 1 << 20);
        let mut big = RowBuffer::new(Arc::clone(&space), 4096);
        let n = 1000u64;
        for i in 0..n {
            small.push(row(i as i64)).expect("push");
            big.push(row(i as i64)).expect("push");
        }
        assert!(!small.is_spilled());
        assert!(big.is_spilled());
        assert_eq!(big.len(), n);
        assert!(big.get(&mut RowCursor::default(), 0).is_err(), "not sealed");
        small.seal().expect("seal");
        big.seal().expect("seal");
        for buffer in [&small, &big] {
            // Sequential passes, then jumps back, far ahead, and to the
            // end, through cursors keeping no or some rows.
            for budget in [0, 2048] {
                let mut cursor = RowCursor::new(budget);
                for _ in 0..2 {
                    for i in 0..n {
                        assert_eq!(buffer.get(&mut cursor, i).expect("get"), &row(i as i64));
                    }
                }
                for i in [5, 700, 3, 4, 999, 998, 129, 128, 127, 0, 256, 600, 590] {
                    assert_eq!(buffer.get(&mut cursor, i).expect("get"), &row(i as i64));
                }
                assert!(buffer.get(&mut cursor, n).is_err());
            }
        }
        assert!(big.push(row(0)).is_err(), "sealed");
        big.clear();
        big.push(row(7)).expect("push after clear");
        match big.into_rows().expect("rows") {
            BufferedRows::Memory(rows) => assert_eq!(rows, vec![row(7)]),
            BufferedRows::File(_) => panic!("one row fits"),
        }
        let directory = space.directory().expect("made");
        drop((small, space));
        assert!(!directory.exists());
    }

    #[test]
    fn partitions_keep_equal_keys_together_and_differ_by_level() {
        let space = SpillSpace::temporary();
        let mut level0 = Partitioner::new(Arc::clone(&space), 8, 0);
        for i in 0..2000i64 {
            // Equal keys of different numeric types.
            let key = if i % 2 == 0 {
                vec![Value::BigInt(i / 2)]
            } else {
                vec![Value::Integer((i / 2) as i32)]
            };
            level0.push(&key, &[Value::BigInt(i)], 0).expect("push");
        }
        let files = level0.finish().expect("finish");
        assert_eq!(files.len(), 8);
        let mut total = 0;
        for (partition, file) in files.iter().enumerate() {
            let file = file.as_ref().expect("2000 rows fill 8 partitions");
            let rows = read_all(file).expect("read");
            total += rows.len();
            for row in &rows {
                let i = row[0].as_i64().expect("int");
                assert_eq!(
                    rows.iter().filter(|r| r[0].as_i64() == Some(i ^ 1)).count(),
                    1
                );
                let key = [Value::BigInt(i / 2)];
                assert_eq!(
                    (partition_hash(0, &key) % 8) as usize,
                    partition,
                    "a key's partition"
                );
            }
            // The next level spreads one partition's keys.
            let spread: std::collections::HashSet<u64> = rows
                .iter()
                .map(|r| partition_hash(1, &[Value::BigInt(r[0].as_i64().unwrap() / 2)]) % 8)
                .collect();
            assert!(spread.len() > 4, "{spread:?}");
        }
        assert_eq!(total, 2000);
    }

    #[test]
    fn fan_out_follows_work_mem() {
        assert_eq!(fan_out(64 * 1024), 8);
        assert_eq!(fan_out(256 * 1024), 32);
        assert_eq!(fan_out(4 * 1024 * 1024), 64);
        assert_eq!(row_size(&[]), 24 + 16);
        let value = std::mem::size_of::<Value>();
        assert_eq!(
            row_size(&[Value::Text("abc".into()), Value::Text("".into())]),
            24 + 2 * value + 16 + (16 + 3 + 16) + (16 + 16)
        );
    }
}
