//! The file seam: the little file I/O the storage layer needs, behind two
//! traits ([`FileSystem`], [`StorageFile`]), with a real implementation
//! ([`OsFileSystem`]) and a deterministic, fault-injecting simulation
//! ([`SimulatedFileSystem`]) for crash tests.
//!
//! The simulation keeps two images of every file:
//!
//! ```text
//!   write_at ──► written bytes  (what reads see)      + pending list of writes
//!                    │ sync()                            since the last sync
//!                    ▼
//!                durable bytes  (what survives crash())
//!
//!   crash(): for every file, durable bytes + each pending write replayed in
//!            order, each one independently (seeded RNG) kept whole, dropped,
//!            kept only up to a 512-byte sector boundary, or kept in a random
//!            subset of its sectors (torn writes; a device need not persist a
//!            write's sectors in order):
//!
//!     page write  | s0 | s1 | s2 | s3 | ... | s15 |    (8 KiB = 16 sectors)
//!     torn at 3   | s0 | s1 | s2 |  old bytes ...  |
//!     scattered   | s0 | old| s2 | old| ... | s15 |
//! ```
//!
//! Invariants:
//! 1. Positioned I/O only: no seek position, so one handle is shared by threads.
//! 2. `sync` on a file makes every write to *that* file durable; nothing else
//!    does. A failed sync (injected, or from the OS) leaves the writes pending:
//!    the caller must treat it as fatal (see `DataFile` and the WAL), since
//!    after a failed `fsync` the kernel may already have dropped the dirty
//!    pages (PostgreSQL's "fsyncgate").
//! 3. In the simulation, creating and removing files and directories is
//!    durable at once (the OS implementation syncs the directory where that
//!    matters, see [`FileSystem::sync_directory`]).
//! 4. The simulation is deterministic for a given seed and order of calls; a
//!    handle opened before `crash()` fails every later call (the process that
//!    held it is gone).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::error::{Error, Result};

/// The sector size at which the simulation tears writes.
pub const SECTOR_SIZE: u64 = 512;

/// Directory-level operations.
pub trait FileSystem: Send + Sync {
    /// Opens `path` for reading and writing, creating an empty file if missing.
    fn open(&self, path: &Path) -> Result<Arc<dyn StorageFile>>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> Result<()>;
    /// Renames a file atomically, replacing `to` if it exists.
    fn rename(&self, from: &Path, to: &Path) -> Result<()>;
    /// The files directly inside `directory`, sorted by path.
    fn list(&self, directory: &Path) -> Result<Vec<PathBuf>>;
    /// Creates a directory and its missing parents.
    fn create_dir_all(&self, directory: &Path) -> Result<()>;
    /// Makes file creations and removals in `directory` durable.
    fn sync_directory(&self, directory: &Path) -> Result<()>;
}

/// One open file, addressed by byte offset.
pub trait StorageFile: Send + Sync {
    /// Reads up to `buffer.len()` bytes at `offset`; fewer only at the end of
    /// the file (0 at or past the end).
    fn read_at(&self, buffer: &mut [u8], offset: u64) -> Result<usize>;
    /// Writes all of `buffer` at `offset`, extending the file if needed.
    fn write_at(&self, buffer: &[u8], offset: u64) -> Result<()>;
    /// Makes every write so far durable (`fdatasync`).
    fn sync(&self) -> Result<()>;
    /// The file's length in bytes.
    fn size(&self) -> Result<u64>;
    /// Truncates or extends (with zeros) the file to `length` bytes.
    fn set_size(&self, length: u64) -> Result<()>;
}

/// Fills `buffer` from `offset`; `Ok(false)` if the file ends first.
pub fn read_exact_at(file: &dyn StorageFile, buffer: &mut [u8], offset: u64) -> Result<bool> {
    let mut done = 0;
    while done < buffer.len() {
        let read = file.read_at(&mut buffer[done..], offset + done as u64)?;
        if read == 0 {
            return Ok(false);
        }
        done += read;
    }
    Ok(true)
}

/// Reads the whole file.
pub fn read_all(file: &dyn StorageFile) -> Result<Vec<u8>> {
    let size = usize::try_from(file.size()?)
        .map_err(|_| Error::Internal("file too large to read into memory".into()))?;
    let mut bytes = vec![0u8; size];
    if !read_exact_at(file, &mut bytes, 0)? {
        return Err(Error::Io(std::io::Error::new(
            ErrorKind::UnexpectedEof,
            "file shrank while being read",
        )));
    }
    Ok(bytes)
}

// ---------------------------------------------------------------------------
// The real file system.

/// `std::fs` with positioned I/O and `sync_data`.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsFileSystem;

struct OsFile {
    file: File,
}

impl FileSystem for OsFileSystem {
    fn open(&self, path: &Path) -> Result<Arc<dyn StorageFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        Ok(Arc::new(OsFile { file }))
    }

    fn remove(&self, path: &Path) -> Result<()> {
        std::fs::remove_file(path)?;
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        std::fs::rename(from, to)?;
        Ok(())
    }

    fn list(&self, directory: &Path) -> Result<Vec<PathBuf>> {
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(directory)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                paths.push(entry.path());
            }
        }
        paths.sort();
        Ok(paths)
    }

    fn create_dir_all(&self, directory: &Path) -> Result<()> {
        std::fs::create_dir_all(directory)?;
        Ok(())
    }

    fn sync_directory(&self, directory: &Path) -> Result<()> {
        File::open(directory)?.sync_all()?;
        Ok(())
    }
}

impl StorageFile for OsFile {
    fn read_at(&self, buffer: &mut [u8], offset: u64) -> Result<usize> {
        loop {
            match self.file.read_at(buffer, offset) {
                Ok(read) => return Ok(read),
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(error) => return Err(error.into()),
            }
        }
    }

    fn write_at(&self, buffer: &[u8], offset: u64) -> Result<()> {
        self.file.write_all_at(buffer, offset)?;
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        self.file.sync_data()?;
        Ok(())
    }

    fn size(&self) -> Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn set_size(&self, length: u64) -> Result<()> {
        self.file.set_len(length)?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The simulation.

/// splitmix64: tiny, deterministic, good enough to pick crash outcomes
/// (and the random workloads of the tests and benches).
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// A number in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}

/// A change not yet synced.
enum PendingChange {
    Write { offset: u64, bytes: Vec<u8> },
    SetSize(u64),
}

#[derive(Default)]
struct SimulatedFile {
    written: Vec<u8>,
    durable: Vec<u8>,
    pending: Vec<PendingChange>,
}

fn write_into(image: &mut Vec<u8>, offset: usize, bytes: &[u8]) {
    let end = offset + bytes.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    image[offset..end].copy_from_slice(bytes);
}

struct SimulatedState {
    files: BTreeMap<PathBuf, SimulatedFile>,
    directories: BTreeSet<PathBuf>,
    random: SplitMix64,
    /// Bumped by `crash`; handles of an older epoch are dead.
    epoch: u64,
    syncs: u64,
    writes: u64,
    /// Fail the sync whose 1-based ordinal is in here.
    failing_syncs: BTreeSet<u64>,
    failing_writes: BTreeSet<u64>,
    /// Torn-write outcomes chosen by the last crash, for tests.
    torn_writes: u64,
    /// After a power loss every operation fails until `power_on`: a dead
    /// process writes nothing more.
    powered_off: bool,
    power_off_at_sync: Option<u64>,
    power_off_at_write: Option<u64>,
    sync_delay: Duration,
}

/// An in-memory file system with crash simulation and fault injection.
/// Cloning shares the same file system.
#[derive(Clone)]
pub struct SimulatedFileSystem {
    state: Arc<Mutex<SimulatedState>>,
}

struct SimulatedHandle {
    state: Arc<Mutex<SimulatedState>>,
    path: PathBuf,
    epoch: u64,
}

/// The crash itself: unsynced changes are kept, dropped or torn at random.
fn crash_state(state: &mut SimulatedState) {
    state.epoch += 1;
    for file in state.files.values_mut() {
        let mut image = std::mem::take(&mut file.durable);
        for change in std::mem::take(&mut file.pending) {
            match change {
                PendingChange::SetSize(size) => {
                    if state.random.below(2) == 0 {
                        image.resize(size as usize, 0);
                    }
                }
                PendingChange::Write { offset, bytes } => {
                    let kept = match state.random.below(4) {
                        0 => bytes.len(),
                        1 => 0,
                        2 => {
                            state.torn_writes += 1;
                            torn_length(&mut state.random, offset, bytes.len())
                        }
                        _ => {
                            state.torn_writes += 1;
                            for (start, end) in sectors(offset, bytes.len()) {
                                if state.random.below(2) == 0 {
                                    let from = (start - offset) as usize;
                                    let to = (end - offset) as usize;
                                    write_into(&mut image, start as usize, &bytes[from..to]);
                                }
                            }
                            0
                        }
                    };
                    if kept > 0 {
                        write_into(&mut image, offset as usize, &bytes[..kept]);
                    }
                }
            }
        }
        file.written = image.clone();
        file.durable = image;
    }
}

fn injected(what: &str) -> Error {
    Error::Io(std::io::Error::other(format!("injected {what} failure")))
}

fn powered_off() -> Error {
    Error::Io(std::io::Error::other("simulated power loss"))
}

fn not_found(path: &Path) -> Error {
    Error::Io(std::io::Error::new(
        ErrorKind::NotFound,
        format!("{}: no such file", path.display()),
    ))
}

impl SimulatedFileSystem {
    /// An empty file system whose crash outcomes follow `seed`.
    pub fn new(seed: u64) -> SimulatedFileSystem {
        SimulatedFileSystem {
            state: Arc::new(Mutex::new(SimulatedState {
                files: BTreeMap::new(),
                directories: BTreeSet::new(),
                random: SplitMix64(seed),
                epoch: 0,
                syncs: 0,
                writes: 0,
                failing_syncs: BTreeSet::new(),
                failing_writes: BTreeSet::new(),
                torn_writes: 0,
                powered_off: false,
                power_off_at_sync: None,
                power_off_at_write: None,
                sync_delay: Duration::ZERO,
            })),
        }
    }

    /// Loses everything not synced, tearing unsynced writes at random (see
    /// the module docs). Every open handle dies.
    pub fn crash(&self) {
        crash_state(&mut self.state.lock());
    }

    /// A crash that also stops the world: until [`power_on`], every
    /// operation fails, so the threads of the "dead" process cannot write
    /// anything after it.
    ///
    /// [`power_on`]: SimulatedFileSystem::power_on
    pub fn power_off(&self) {
        let mut state = self.state.lock();
        crash_state(&mut state);
        state.powered_off = true;
    }

    /// Ends a power loss: the next process may start. Pending power-off
    /// triggers are cleared.
    pub fn power_on(&self) {
        let mut state = self.state.lock();
        state.powered_off = false;
        state.power_off_at_sync = None;
        state.power_off_at_write = None;
    }

    /// Whether the power is off (after `power_off` or a trigger fired).
    pub fn is_powered_off(&self) -> bool {
        self.state.lock().powered_off
    }

    /// Powers off instead of performing the sync with this 1-based ordinal.
    pub fn power_off_at_sync(&self, ordinal: u64) {
        self.state.lock().power_off_at_sync = Some(ordinal);
    }

    /// Powers off right after accepting (but not syncing) the write with this
    /// 1-based ordinal, which the crash may then keep, drop or tear.
    pub fn power_off_at_write(&self, ordinal: u64) {
        self.state.lock().power_off_at_write = Some(ordinal);
    }

    /// Makes the next sync (of any file) fail.
    pub fn fail_next_sync(&self) {
        let mut state = self.state.lock();
        let next = state.syncs + 1;
        state.failing_syncs.insert(next);
    }

    /// Makes the sync with this 1-based ordinal (counting all syncs ever) fail.
    pub fn fail_sync_number(&self, ordinal: u64) {
        self.state.lock().failing_syncs.insert(ordinal);
    }

    /// Makes the next write (of any file) fail without writing anything.
    pub fn fail_next_write(&self) {
        let mut state = self.state.lock();
        let next = state.writes + 1;
        state.failing_writes.insert(next);
    }

    /// Every sync sleeps this long (outside the lock), like a slow disk.
    pub fn set_sync_delay(&self, delay: Duration) {
        self.state.lock().sync_delay = delay;
    }

    /// Sync calls so far (including failed ones).
    pub fn sync_count(&self) -> u64 {
        self.state.lock().syncs
    }

    /// Write calls so far (including failed ones).
    pub fn write_count(&self) -> u64 {
        self.state.lock().writes
    }

    /// How many writes crashes have torn so far.
    pub fn torn_write_count(&self) -> u64 {
        self.state.lock().torn_writes
    }

    /// The durable bytes of a file (what a crash now would keep at least).
    pub fn durable_bytes(&self, path: &Path) -> Option<Vec<u8>> {
        self.state
            .lock()
            .files
            .get(path)
            .map(|file| file.durable.clone())
    }
}

/// The sector-aligned pieces of a write at `offset` of `length` bytes, as
/// absolute `(start, end)` byte ranges.
fn sectors(offset: u64, length: usize) -> impl Iterator<Item = (u64, u64)> {
    let end = offset + length as u64;
    let mut start = offset;
    std::iter::from_fn(move || {
        if start >= end {
            return None;
        }
        let piece_end = ((start / SECTOR_SIZE + 1) * SECTOR_SIZE).min(end);
        let piece = (start, piece_end);
        start = piece_end;
        Some(piece)
    })
}

/// A torn write keeps a prefix ending on a sector boundary strictly inside
/// the write; a write within one sector is kept or dropped whole.
fn torn_length(random: &mut SplitMix64, offset: u64, length: usize) -> usize {
    let end = offset + length as u64;
    let first_boundary = (offset / SECTOR_SIZE + 1) * SECTOR_SIZE;
    if first_boundary >= end {
        return if random.below(2) == 0 { length } else { 0 };
    }
    let boundaries = (end - 1 - first_boundary) / SECTOR_SIZE + 1;
    let boundary = first_boundary + random.below(boundaries) * SECTOR_SIZE;
    (boundary - offset) as usize
}

impl FileSystem for SimulatedFileSystem {
    fn open(&self, path: &Path) -> Result<Arc<dyn StorageFile>> {
        let mut state = self.state.lock();
        if state.powered_off {
            return Err(powered_off());
        }
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
            && !state.directories.contains(parent)
        {
            return Err(not_found(parent));
        }
        state.files.entry(path.to_path_buf()).or_default();
        Ok(Arc::new(SimulatedHandle {
            state: Arc::clone(&self.state),
            path: path.to_path_buf(),
            epoch: state.epoch,
        }))
    }

    fn remove(&self, path: &Path) -> Result<()> {
        let mut state = self.state.lock();
        if state.powered_off {
            return Err(powered_off());
        }
        match state.files.remove(path) {
            Some(_) => Ok(()),
            None => Err(not_found(path)),
        }
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        let mut state = self.state.lock();
        if state.powered_off {
            return Err(powered_off());
        }
        let file = state.files.remove(from).ok_or_else(|| not_found(from))?;
        state.files.insert(to.to_path_buf(), file);
        // Handles opened under the old name stop working: reopen the new one.
        Ok(())
    }

    fn list(&self, directory: &Path) -> Result<Vec<PathBuf>> {
        let state = self.state.lock();
        if state.powered_off {
            return Err(powered_off());
        }
        if !state.directories.contains(directory) {
            return Err(not_found(directory));
        }
        Ok(state
            .files
            .keys()
            .filter(|path| path.parent() == Some(directory))
            .cloned()
            .collect())
    }

    fn create_dir_all(&self, directory: &Path) -> Result<()> {
        let mut state = self.state.lock();
        if state.powered_off {
            return Err(powered_off());
        }
        for ancestor in directory.ancestors() {
            if !ancestor.as_os_str().is_empty() {
                state.directories.insert(ancestor.to_path_buf());
            }
        }
        Ok(())
    }

    fn sync_directory(&self, directory: &Path) -> Result<()> {
        let state = self.state.lock();
        if state.powered_off {
            return Err(powered_off());
        }
        if state.directories.contains(directory) {
            Ok(())
        } else {
            Err(not_found(directory))
        }
    }
}

impl SimulatedHandle {
    /// Runs `action` on this file's state, unless the handle died in a crash
    /// or the file was removed.
    fn with_file<T>(&self, action: impl FnOnce(&mut SimulatedState) -> Result<T>) -> Result<T> {
        let mut state = self.state.lock();
        if state.powered_off {
            return Err(powered_off());
        }
        if state.epoch != self.epoch {
            return Err(Error::Io(std::io::Error::other(
                "file handle opened before a simulated crash",
            )));
        }
        if !state.files.contains_key(&self.path) {
            return Err(not_found(&self.path));
        }
        action(&mut state)
    }

    fn file<'a>(&self, state: &'a mut SimulatedState) -> Result<&'a mut SimulatedFile> {
        state
            .files
            .get_mut(&self.path)
            .ok_or_else(|| not_found(&self.path))
    }
}

impl StorageFile for SimulatedHandle {
    fn read_at(&self, buffer: &mut [u8], offset: u64) -> Result<usize> {
        self.with_file(|state| {
            let file = self.file(state)?;
            let start = (offset as usize).min(file.written.len());
            let end = (start + buffer.len()).min(file.written.len());
            buffer[..end - start].copy_from_slice(&file.written[start..end]);
            Ok(end - start)
        })
    }

    fn write_at(&self, buffer: &[u8], offset: u64) -> Result<()> {
        self.with_file(|state| {
            state.writes += 1;
            let ordinal = state.writes;
            if state.failing_writes.remove(&ordinal) {
                return Err(injected("write"));
            }
            let file = self.file(state)?;
            write_into(&mut file.written, offset as usize, buffer);
            file.pending.push(PendingChange::Write {
                offset,
                bytes: buffer.to_vec(),
            });
            if state.power_off_at_write == Some(ordinal) {
                crash_state(state);
                state.powered_off = true;
                return Err(powered_off());
            }
            Ok(())
        })
    }

    fn sync(&self) -> Result<()> {
        let delay = self.with_file(|state| Ok(state.sync_delay))?;
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        self.with_file(|state| {
            state.syncs += 1;
            let ordinal = state.syncs;
            if state.failing_syncs.remove(&ordinal) {
                return Err(injected("sync"));
            }
            if state.power_off_at_sync == Some(ordinal) {
                crash_state(state);
                state.powered_off = true;
                return Err(powered_off());
            }
            let file = self.file(state)?;
            file.durable = file.written.clone();
            file.pending.clear();
            Ok(())
        })
    }

    fn size(&self) -> Result<u64> {
        self.with_file(|state| Ok(self.file(state)?.written.len() as u64))
    }

    fn set_size(&self, length: u64) -> Result<()> {
        self.with_file(|state| {
            let file = self.file(state)?;
            file.written.resize(length as usize, 0);
            file.pending.push(PendingChange::SetSize(length));
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simulated(seed: u64) -> (SimulatedFileSystem, Arc<dyn StorageFile>) {
        let fs = SimulatedFileSystem::new(seed);
        fs.create_dir_all(Path::new("/data")).unwrap();
        let file = fs.open(Path::new("/data/file")).unwrap();
        (fs, file)
    }

    fn contents(fs: &SimulatedFileSystem) -> Vec<u8> {
        let file = fs.open(Path::new("/data/file")).unwrap();
        read_all(&*file).unwrap()
    }

    #[test]
    fn synced_data_survives_a_crash_and_unsynced_appends_may_not() {
        let mut lost = 0;
        for seed in 0..32 {
            let (fs, file) = simulated(seed);
            file.write_at(b"durable", 0).unwrap();
            file.sync().unwrap();
            file.write_at(b" maybe", 7).unwrap();
            assert_eq!(read_all(&*file).unwrap(), b"durable maybe");
            fs.crash();
            let after = contents(&fs);
            assert!(after.starts_with(b"durable"), "seed {seed}: {after:?}");
            assert!(b"durable maybe".starts_with(&after), "seed {seed}");
            if after == b"durable" {
                lost += 1;
            }
            // The old handle died with the crash.
            assert!(file.read_at(&mut [0u8; 4], 0).is_err());
        }
        assert!(lost > 0, "some seed should drop the unsynced write");
    }

    #[test]
    fn crash_without_writes_since_sync_keeps_everything() {
        let (fs, file) = simulated(7);
        file.write_at(&[5u8; 3000], 100).unwrap();
        file.set_size(2000).unwrap();
        file.sync().unwrap();
        fs.crash();
        let after = contents(&fs);
        assert_eq!(after.len(), 2000);
        assert!(after[..100].iter().all(|byte| *byte == 0));
        assert!(after[100..].iter().all(|byte| *byte == 5));
    }

    #[test]
    fn torn_writes_keep_whole_sectors_in_any_order() {
        let page = 8192usize;
        let sector = SECTOR_SIZE as usize;
        let (mut prefixes, mut scattered, mut whole, mut none) = (0, 0, 0, 0);
        for seed in 0..200 {
            let (fs, file) = simulated(seed);
            file.write_at(&vec![0u8; 2 * page], 0).unwrap();
            file.sync().unwrap();
            file.write_at(&vec![0xAAu8; page], page as u64).unwrap();
            fs.crash();
            let after = contents(&fs);
            assert_eq!(after.len(), 2 * page, "seed {seed}");
            assert!(after[..page].iter().all(|byte| *byte == 0));
            // Every sector is all new or all old bytes.
            let kept: Vec<bool> = after[page..]
                .chunks(sector)
                .map(|bytes| {
                    let new = bytes.iter().all(|byte| *byte == 0xAA);
                    assert!(new || bytes.iter().all(|byte| *byte == 0), "seed {seed}");
                    new
                })
                .collect();
            let count = kept.iter().filter(|new| **new).count();
            if count == kept.len() {
                whole += 1;
            } else if count == 0 {
                none += 1;
            } else if kept[..count].iter().all(|new| *new) {
                prefixes += 1;
            } else {
                scattered += 1;
            }
        }
        assert!(whole > 0 && none > 0 && prefixes > 0 && scattered > 0);
    }

    #[test]
    fn torn_unaligned_write_keeps_a_prefix_up_to_a_boundary() {
        for seed in 0..100 {
            let mut random = SplitMix64(seed);
            let kept = torn_length(&mut random, 300, 1000);
            // Boundaries inside 300..1300 are 512 and 1024.
            assert!(kept == 212 || kept == 724, "{kept}");
            let kept = torn_length(&mut random, 10, 20);
            assert!(kept == 0 || kept == 20);
        }
    }

    #[test]
    fn injected_failures_are_reported_and_counted() {
        let (fs, file) = simulated(1);
        file.write_at(b"abc", 0).unwrap();
        fs.fail_next_sync();
        let error = file.sync().unwrap_err();
        assert!(matches!(error, Error::Io(_)), "{error}");
        assert_eq!(fs.sync_count(), 1);
        // The failed sync made nothing durable.
        assert_eq!(fs.durable_bytes(Path::new("/data/file")).unwrap(), b"");
        fs.fail_sync_number(3);
        file.sync().unwrap();
        assert!(file.sync().is_err());
        fs.fail_next_write();
        assert!(file.write_at(b"zzz", 0).is_err());
        assert_eq!(read_all(&*file).unwrap(), b"abc");
        assert_eq!(fs.write_count(), 2);
    }

    #[test]
    fn list_remove_and_directories() {
        let fs = SimulatedFileSystem::new(0);
        assert!(fs.open(Path::new("/nowhere/file")).is_err());
        fs.create_dir_all(Path::new("/a/b")).unwrap();
        fs.open(Path::new("/a/b/2")).unwrap();
        fs.open(Path::new("/a/b/1")).unwrap();
        fs.open(Path::new("/a/top")).unwrap();
        assert_eq!(
            fs.list(Path::new("/a/b")).unwrap(),
            vec![PathBuf::from("/a/b/1"), PathBuf::from("/a/b/2")]
        );
        fs.remove(Path::new("/a/b/1")).unwrap();
        assert!(fs.remove(Path::new("/a/b/1")).is_err());
        assert_eq!(fs.list(Path::new("/a/b")).unwrap().len(), 1);
        fs.sync_directory(Path::new("/a/b")).unwrap();
    }

    #[test]
    fn os_file_system_round_trip() {
        let directory = tempfile::tempdir().unwrap();
        let fs = OsFileSystem;
        let path = directory.path().join("sub/file");
        fs.create_dir_all(path.parent().unwrap()).unwrap();
        let file = fs.open(&path).unwrap();
        file.write_at(b"hello", 3).unwrap();
        file.sync().unwrap();
        assert_eq!(file.size().unwrap(), 8);
        let mut buffer = [0u8; 8];
        assert!(read_exact_at(&*file, &mut buffer, 0).unwrap());
        assert_eq!(&buffer, b"\0\0\0hello");
        assert!(!read_exact_at(&*file, &mut buffer, 4).unwrap());
        file.set_size(4).unwrap();
        assert_eq!(read_all(&*file).unwrap(), b"\0\0\0h");
        assert_eq!(fs.list(path.parent().unwrap()).unwrap(), vec![path.clone()]);
        fs.sync_directory(path.parent().unwrap()).unwrap();
        fs.remove(&path).unwrap();
        assert!(fs.list(path.parent().unwrap()).unwrap().is_empty());
    }
}
