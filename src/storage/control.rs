//! The control file, `<data_dir>/basalt.control`: where recovery starts.
//!
//! It holds the last completed checkpoint: its redo LSN and the meta state
//! (page count, free list, directory root) as of the checkpoint. Two slots,
//! each in its own 512-byte sector, are written alternately, so a write torn
//! by a crash damages only the slot being written and the other still holds
//! the previous checkpoint. Slot layout, little-endian:
//!
//! ```text
//!   offset  size  field
//!   0       8     magic "BASALTCF"
//!   8       4     format version (1)
//!   12      4     reserved, zero
//!   16      8     sequence: higher is newer
//!   24      8     redo LSN
//!   32      8     page count
//!   40      8     free-list head
//!   48      8     free-page count
//!   56      8     directory root (0: not created yet)
//!   64      4     CRC32C of bytes 0..64
//! ```
//!
//! Invariants:
//! 1. A slot is used only if its CRC, magic and version are right; of two
//!    usable slots the higher sequence wins.
//! 2. `write` returns only after the slot is durable (fsync). The checkpoint
//!    removes old WAL only after that, so the WAL a usable slot needs exists.
//! 3. A control file with no usable slot refuses to start: recovery would
//!    not know where to begin, and guessing could lose committed data.

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use super::meta::Meta;
use super::page::{read_u32, read_u64, write_u32, write_u64};
use super::vfs::{self, FileSystem, StorageFile};
use super::wal::Lsn;
use crate::error::{Error, Result};

/// The control file's name inside the data directory.
pub const CONTROL_FILE_NAME: &str = "basalt.control";

const MAGIC: &[u8; 8] = b"BASALTCF";
const VERSION: u32 = 1;
const SLOT_STRIDE: u64 = 512;
const SLOT_BODY: usize = 64;
const SLOT_SIZE: usize = SLOT_BODY + 4;

/// A completed checkpoint: recovery replays the WAL from `redo_lsn` on top
/// of the data file, starting from `meta`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub redo_lsn: Lsn,
    pub meta: Meta,
}

/// The open control file.
pub struct ControlFile {
    file: Arc<dyn StorageFile>,
    /// The sequence of the newest slot written or read.
    sequence: Mutex<u64>,
}

fn encode(sequence: u64, checkpoint: &Checkpoint) -> [u8; SLOT_SIZE] {
    let mut bytes = [0u8; SLOT_SIZE];
    bytes[..8].copy_from_slice(MAGIC);
    write_u32(&mut bytes, 8, VERSION);
    write_u64(&mut bytes, 16, sequence);
    write_u64(&mut bytes, 24, checkpoint.redo_lsn);
    write_u64(&mut bytes, 32, checkpoint.meta.page_count);
    write_u64(&mut bytes, 40, checkpoint.meta.free_head);
    write_u64(&mut bytes, 48, checkpoint.meta.free_count);
    write_u64(&mut bytes, 56, checkpoint.meta.directory_root);
    let crc = crc32c::crc32c(&bytes[..SLOT_BODY]);
    write_u32(&mut bytes, SLOT_BODY, crc);
    bytes
}

/// A usable slot's (sequence, checkpoint), or `None` (invariant 1).
fn decode(bytes: &[u8]) -> Option<(u64, Checkpoint)> {
    if bytes.len() < SLOT_SIZE
        || &bytes[..8] != MAGIC
        || read_u32(bytes, 8) != VERSION
        || read_u32(bytes, SLOT_BODY) != crc32c::crc32c(&bytes[..SLOT_BODY])
    {
        return None;
    }
    let checkpoint = Checkpoint {
        redo_lsn: read_u64(bytes, 24),
        meta: Meta {
            page_count: read_u64(bytes, 32),
            free_head: read_u64(bytes, 40),
            free_count: read_u64(bytes, 48),
            directory_root: read_u64(bytes, 56),
        },
    };
    Some((read_u64(bytes, 16), checkpoint))
}

impl ControlFile {
    /// Opens (creating) the control file in `data_dir`. Returns the newest
    /// checkpoint, or `None` if the file is empty (a new database, or one
    /// whose creation crashed before its first checkpoint).
    pub fn open(
        file_system: &dyn FileSystem,
        data_dir: &Path,
    ) -> Result<(ControlFile, Option<Checkpoint>)> {
        let path = data_dir.join(CONTROL_FILE_NAME);
        let file = file_system.open(&path)?;
        let bytes = vfs::read_all(&*file)?;
        let control = ControlFile {
            file,
            sequence: Mutex::new(0),
        };
        if bytes.is_empty() {
            return Ok((control, None));
        }
        let newest = [0, SLOT_STRIDE as usize]
            .iter()
            .filter_map(|&offset| bytes.get(offset..).and_then(decode))
            .max_by_key(|(sequence, _)| *sequence);
        let Some((sequence, checkpoint)) = newest else {
            return Err(Error::Corrupt(format!(
                "control file {}: no valid checkpoint slot (both damaged); \
                 recovery cannot know where to start",
                path.display()
            )));
        };
        checkpoint.meta.validate()?;
        *control.sequence.lock() = sequence;
        Ok((control, Some(checkpoint)))
    }

    /// Durably records a completed checkpoint in the older slot (invariant 2).
    pub fn write(&self, checkpoint: &Checkpoint) -> Result<()> {
        let mut sequence = self.sequence.lock();
        let next = *sequence + 1;
        let slot = next % 2;
        self.file
            .write_at(&encode(next, checkpoint), slot * SLOT_STRIDE)?;
        self.file.sync()?;
        *sequence = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::vfs::SimulatedFileSystem;

    fn checkpoint(redo_lsn: Lsn) -> Checkpoint {
        Checkpoint {
            redo_lsn,
            meta: Meta {
                page_count: 10,
                free_head: 3,
                free_count: 1,
                directory_root: 1,
            },
        }
    }

    #[test]
    fn newest_slot_wins_and_a_torn_slot_falls_back_to_the_other() {
        let fs = SimulatedFileSystem::new(3);
        let dir = Path::new("/sim/data");
        fs.create_dir_all(dir).unwrap();
        let (control, found) = ControlFile::open(&fs, dir).unwrap();
        assert_eq!(found, None);
        for redo in [100, 200, 300] {
            control.write(&checkpoint(redo)).unwrap();
        }
        drop(control);
        let (control, found) = ControlFile::open(&fs, dir).unwrap();
        assert_eq!(found, Some(checkpoint(300)));
        // Damage the newest slot (sequence 3 lives in slot 1): the other wins.
        let path = dir.join(CONTROL_FILE_NAME);
        let file = fs.open(&path).unwrap();
        file.write_at(&[0xAB; 8], SLOT_STRIDE + 20).unwrap();
        file.sync().unwrap();
        drop(control);
        let (control, found) = ControlFile::open(&fs, dir).unwrap();
        assert_eq!(found, Some(checkpoint(200)));
        // Writing again goes to the slot after the newest valid one.
        control.write(&checkpoint(400)).unwrap();
        assert_eq!(
            ControlFile::open(&fs, dir).unwrap().1,
            Some(checkpoint(400))
        );
        // Both slots damaged: refuse to start.
        file.write_at(&[0xCD; 8], 20).unwrap();
        file.write_at(&[0xCD; 8], SLOT_STRIDE + 20).unwrap();
        file.sync().unwrap();
        let error = ControlFile::open(&fs, dir).err().expect("no usable slot");
        assert!(matches!(error, Error::Corrupt(_)), "{error}");
        assert!(
            error.to_string().contains("no valid checkpoint slot"),
            "{error}"
        );
    }
}
