//! The WAL's bytes on disk: segment file names and the record format, and
//! the parser that splits one segment into records and tells a torn tail
//! from corruption. `docs/storage.md` ("Write-ahead log") is the spec.
//!
//! ```text
//!   record:  | payload length u32 | type u8 | LSN u64 | payload ... | CRC32C u32 |
//!            |<------------- header, 13 bytes ------->|             |
//!            CRC32C covers header + payload; all integers little-endian.
//!
//!   segment <first LSN as 16 hex digits>.wal, covering LSNs first..first+size:
//!   | rec | rec | rec | segment-end record | (unused) |   or   | rec | rec |<17 B|
//!
//!   flush mark (type 254, 25 bytes), first record of every flushed chunk:
//!   | length 8 | 254 | LSN | durable LSN u64 | CRC32C |
//!
//!   a crash during the last flush's write; the device kept some of its
//!   sectors, not necessarily a prefix:
//!   | M r r r | M r r | M r ░░░ r r ░░ zeros ...
//!     D=0       D=a     D=b  ^ h = first invalid record
//!   no mark after h says "durable below D" with D > h: a torn tail.
//!   a flipped byte in an older flush:
//!   | M r r r | M r ░ r | M r r r | M r ...
//!     D=0       D=a ^ h   D=b > h: h was durable before, so corruption.
//! ```
//!
//! Invariants:
//! 1. A record's LSN is its byte position in the log stream, and segment
//!    `s` starts at LSN `s * segment size`, so a record at LSN `l` sits at
//!    offset `l % segment size` of segment `l - l % segment size` and carries
//!    `l` in its header: a record with a valid checksum at the wrong place is
//!    corruption, not a torn write.
//! 2. Records never straddle a segment boundary. When the next record does not
//!    fit, the writer ends the segment with a segment-end record (type 255,
//!    empty payload) if at least 17 bytes remain, else leaves the under-17-byte
//!    rest unused; the next record starts the next segment.
//! 3. Type 0 is never written (zeroed space must not parse as a record);
//!    types 1..=253 belong to the WAL's users.
//! 4. Parsing stops at the first invalid record `h` (truncated, impossible
//!    length, checksum mismatch). If a valid flush mark — valid checksum
//!    *and* its own LSN in the header — later in the segment records a
//!    durable LSN above `h`, then `h` was durable before that flush began:
//!    mid-log corruption (`Error::Corrupt` naming the LSN). Otherwise `h` is
//!    the torn tail of the log, even if valid records follow it: a write cut
//!    short by a crash may keep any of its sectors (a device need not
//!    persist them in order), and nothing in it was acknowledged.
//! 5. Every chunk a flush writes starts with a flush mark (type 254) whose
//!    payload is the flushed LSN when the flush began. Marks are the log's
//!    own bookkeeping: readers never see them. So corruption is told from a
//!    torn tail everywhere but in the last flush, where the two look alike.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::storage::vfs::FileSystem;

/// A log sequence number: a byte position in the log stream.
pub type Lsn = u64;

/// Bytes before the payload: length, type, LSN.
pub const RECORD_HEADER_SIZE: usize = 13;
/// Header plus trailing checksum: the size of a record with an empty payload.
pub const RECORD_OVERHEAD: usize = RECORD_HEADER_SIZE + 4;
/// The record type that ends a segment early (invariant 2).
pub const SEGMENT_END_TYPE: u8 = 255;
/// The record type that starts a flush round (invariant 5).
pub const FLUSH_MARK_TYPE: u8 = 254;
/// The encoded size of a flush mark: overhead plus an 8-byte LSN.
pub const FLUSH_MARK_SIZE: usize = RECORD_OVERHEAD + 8;
/// The directory of the segments inside the data directory.
pub const WAL_DIRECTORY_NAME: &str = "wal";
/// The extension of segment files.
pub const SEGMENT_EXTENSION: &str = "wal";

/// One record read back from the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalRecord {
    /// Where the record starts.
    pub lsn: Lsn,
    /// The user's type, 1..=253.
    pub record_type: u8,
    pub payload: Vec<u8>,
}

impl WalRecord {
    /// Where the record ends (the next record may start later, past the
    /// unusable rest of a segment).
    pub fn end_lsn(&self) -> Lsn {
        self.lsn + (RECORD_OVERHEAD + self.payload.len()) as Lsn
    }
}

/// Appends the encoded record to `out`.
pub fn encode(record_type: u8, lsn: Lsn, payload: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    let length = u32::try_from(payload.len()).expect("invariant: the writer bounds payload sizes");
    out.extend_from_slice(&length.to_le_bytes());
    out.push(record_type);
    out.extend_from_slice(&lsn.to_le_bytes());
    out.extend_from_slice(payload);
    let checksum = crc32c::crc32c(&out[start..]);
    out.extend_from_slice(&checksum.to_le_bytes());
}

/// Sets the durable LSN of the flush mark at the start of `chunk` and
/// re-checksums it (the writer learns the value only when it issues the
/// round).
pub fn set_flush_mark(chunk: &mut [u8], durable: Lsn) {
    debug_assert_eq!(chunk[4], FLUSH_MARK_TYPE);
    chunk[RECORD_HEADER_SIZE..RECORD_HEADER_SIZE + 8].copy_from_slice(&durable.to_le_bytes());
    let checksum = crc32c::crc32c(&chunk[..RECORD_HEADER_SIZE + 8]);
    chunk[RECORD_HEADER_SIZE + 8..FLUSH_MARK_SIZE].copy_from_slice(&checksum.to_le_bytes());
}

/// The path of the segment starting at `start`.
pub fn segment_path(directory: &Path, start: Lsn) -> PathBuf {
    directory.join(format!("{start:016x}.{SEGMENT_EXTENSION}"))
}

/// The first LSNs of the segments in `directory`, ascending; other files are
/// ignored. Segments must start on a segment boundary and be consecutive.
pub fn list_segments(
    file_system: &dyn FileSystem,
    directory: &Path,
    segment_size: u64,
) -> Result<Vec<Lsn>> {
    let mut starts = Vec::new();
    for path in file_system.list(directory)? {
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".wal") else {
            continue;
        };
        if stem.len() != 16 || !stem.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            continue;
        }
        let start = u64::from_str_radix(stem, 16)
            .map_err(|_| Error::Internal(format!("unparsable WAL segment name {name}")))?;
        if start % segment_size != 0 {
            return Err(Error::Corrupt(format!(
                "WAL segment {name} does not start on a multiple of the segment size \
                 {segment_size} (was the segment size changed?)"
            )));
        }
        starts.push(start);
    }
    starts.sort_unstable();
    for pair in starts.windows(2) {
        if pair[1] != pair[0] + segment_size {
            return Err(Error::Corrupt(format!(
                "WAL segments missing between LSN {} and LSN {}",
                pair[0], pair[1]
            )));
        }
    }
    Ok(starts)
}

/// How a segment's records end.
#[derive(Debug, PartialEq, Eq)]
pub enum SegmentEnd {
    /// The segment is complete: the next record is at the next segment's start.
    Full,
    /// The data stops (end of bytes or torn record) at this LSN.
    Tail { lsn: Lsn, reason: String },
}

enum Check {
    Valid { record_type: u8, length: usize },
    Invalid(String),
}

fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    let mut field = [0u8; 4];
    field.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_le_bytes(field)
}

fn read_u64(bytes: &[u8], offset: usize) -> u64 {
    let mut field = [0u8; 8];
    field.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_le_bytes(field)
}

/// Checks the record at `offset`. `Invalid` means "not a record" (torn or
/// garbage); `Err` means a checksummed record that cannot be right.
fn check_record(bytes: &[u8], offset: usize, segment_size: usize, lsn: Lsn) -> Result<Check> {
    let available = bytes.len() - offset;
    if available < RECORD_HEADER_SIZE {
        return Ok(Check::Invalid("truncated record header".into()));
    }
    let length = read_u32(bytes, offset) as usize;
    let record_type = bytes[offset + 4];
    let stored_lsn = read_u64(bytes, offset + 5);
    // `length` is at most u32::MAX, so this cannot overflow a 64-bit usize.
    let total = RECORD_OVERHEAD + length;
    if total > segment_size - offset {
        return Ok(Check::Invalid(format!(
            "payload length {length} runs past the segment end"
        )));
    }
    if total > available {
        return Ok(Check::Invalid("truncated record".into()));
    }
    let checksum_offset = offset + RECORD_HEADER_SIZE + length;
    let stored = read_u32(bytes, checksum_offset);
    let computed = crc32c::crc32c(&bytes[offset..checksum_offset]);
    if stored != computed {
        return Ok(Check::Invalid(format!(
            "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
        )));
    }
    // The checksum holds, so these bytes are as some writer wrote them.
    if stored_lsn != lsn {
        return Err(Error::Corrupt(format!(
            "WAL record at LSN {lsn} carries LSN {stored_lsn}"
        )));
    }
    if record_type == 0
        || (record_type == SEGMENT_END_TYPE && length != 0)
        || (record_type == FLUSH_MARK_TYPE && length != 8)
    {
        return Err(Error::Corrupt(format!(
            "WAL record at LSN {lsn} has invalid type {record_type} (length {length})"
        )));
    }
    Ok(Check::Valid {
        record_type,
        length,
    })
}

/// Why the invalid record at `offset` cannot be the torn tail (invariant
/// 4), if a flush mark after it says so. The LSN-in-header filter keeps
/// the scan cheap.
fn corruption_after(
    bytes: &[u8],
    offset: usize,
    segment_start: Lsn,
    segment_size: usize,
) -> Option<String> {
    let hole = segment_start + offset as u64;
    (offset + 1..bytes.len().saturating_sub(FLUSH_MARK_SIZE - 1)).find_map(|candidate| {
        let lsn = segment_start + candidate as u64;
        if bytes[candidate + 4] != FLUSH_MARK_TYPE || read_u64(bytes, candidate + 5) != lsn {
            return None;
        }
        match check_record(bytes, candidate, segment_size, lsn) {
            Ok(Check::Valid {
                record_type: FLUSH_MARK_TYPE,
                ..
            }) => {
                let durable = read_u64(bytes, candidate + RECORD_HEADER_SIZE);
                (durable > hole).then(|| {
                    format!("a flush mark at LSN {lsn} records the log durable to LSN {durable}")
                })
            }
            _ => None,
        }
    })
}

/// Parses the bytes of the segment starting at `segment_start`, calling
/// `on_record(lsn, type, payload)` for each record in order (not for
/// segment-end records or flush marks).
pub fn parse_segment(
    bytes: &[u8],
    segment_start: Lsn,
    segment_size: u64,
    mut on_record: impl FnMut(Lsn, u8, &[u8]),
) -> Result<SegmentEnd> {
    let size = usize::try_from(segment_size)
        .map_err(|_| Error::Internal("WAL segment size exceeds the address space".into()))?;
    if bytes.len() > size {
        return Err(Error::Corrupt(format!(
            "WAL segment at LSN {segment_start} holds {} bytes, more than the segment size {size}",
            bytes.len()
        )));
    }
    let mut offset = 0usize;
    loop {
        let lsn = segment_start + offset as u64;
        if size - offset < RECORD_OVERHEAD {
            return Ok(SegmentEnd::Full);
        }
        if offset == bytes.len() {
            return Ok(SegmentEnd::Tail {
                lsn,
                reason: "end of data".into(),
            });
        }
        match check_record(bytes, offset, size, lsn)? {
            Check::Valid {
                record_type: SEGMENT_END_TYPE,
                ..
            } => return Ok(SegmentEnd::Full),
            Check::Valid {
                record_type: FLUSH_MARK_TYPE,
                length,
            } => offset += RECORD_OVERHEAD + length,
            Check::Valid {
                record_type,
                length,
            } => {
                let payload = offset + RECORD_HEADER_SIZE;
                on_record(lsn, record_type, &bytes[payload..payload + length]);
                offset += RECORD_OVERHEAD + length;
            }
            Check::Invalid(reason) => {
                if let Some(proof) = corruption_after(bytes, offset, segment_start, size) {
                    return Err(Error::Corrupt(format!(
                        "WAL record at LSN {lsn}: {reason}, but {proof}"
                    )));
                }
                return Ok(SegmentEnd::Tail { lsn, reason });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(records: &[(&[u8], u8)], start: Lsn) -> Vec<u8> {
        let mut bytes = Vec::new();
        for (payload, record_type) in records {
            let lsn = start + bytes.len() as u64;
            encode(*record_type, lsn, payload, &mut bytes);
        }
        bytes
    }

    fn records_of(bytes: &[u8], start: Lsn, size: u64) -> (Vec<WalRecord>, Result<SegmentEnd>) {
        let mut records = Vec::new();
        let end = parse_segment(bytes, start, size, |lsn, record_type, payload| {
            records.push(WalRecord {
                lsn,
                record_type,
                payload: payload.to_vec(),
            })
        });
        (records, end)
    }

    #[test]
    fn encode_layout_is_as_documented() {
        let mut bytes = Vec::new();
        encode(7, 0x0102, b"abc", &mut bytes);
        assert_eq!(bytes.len(), RECORD_OVERHEAD + 3);
        assert_eq!(&bytes[0..4], &3u32.to_le_bytes());
        assert_eq!(bytes[4], 7);
        assert_eq!(&bytes[5..13], &0x0102u64.to_le_bytes());
        assert_eq!(&bytes[13..16], b"abc");
        assert_eq!(&bytes[16..20], &crc32c::crc32c(&bytes[..16]).to_le_bytes());
    }

    #[test]
    fn parses_records_and_reports_tails() {
        let bytes = segment(&[(b"one", 1), (b"", 2), (b"three", 3)], 1024);
        let (records, end) = records_of(&bytes, 1024, 1024);
        assert_eq!(records.len(), 3);
        assert_eq!(records[1].lsn, 1024 + 20);
        assert_eq!(records[2].payload, b"three");
        let end_lsn = 1024 + bytes.len() as u64;
        assert_eq!(
            end.unwrap(),
            SegmentEnd::Tail {
                lsn: end_lsn,
                reason: "end of data".into()
            }
        );
        // Every cut inside the last record is a clean tail at its start.
        for cut in 37..bytes.len() {
            let (records, end) = records_of(&bytes[..cut], 1024, 1024);
            assert_eq!(records.len(), 2, "cut {cut}");
            assert!(matches!(end.unwrap(), SegmentEnd::Tail { lsn: 1061, .. }));
        }
        // Zeros after the records are a tail too.
        let mut zeros = bytes.clone();
        zeros.resize(600, 0);
        let (records, end) = records_of(&zeros, 1024, 1024);
        assert_eq!(records.len(), 3);
        assert!(matches!(end.unwrap(), SegmentEnd::Tail { lsn, .. } if lsn == end_lsn));
    }

    #[test]
    fn a_bad_record_is_corruption_only_if_a_later_flush_mark_says_it_was_durable() {
        let mut bytes = segment(&[(b"one", 1), (b"two", 2), (b"three", 3)], 0);
        bytes[20 + 13] ^= 0x40; // payload of the record at LSN 20
        // A valid record after it proves nothing: a crash may keep any
        // sectors of the last write.
        let (records, end) = records_of(&bytes, 0, 4096);
        assert_eq!(records.len(), 1);
        assert!(matches!(end.unwrap(), SegmentEnd::Tail { lsn: 20, .. }));
        // A later flush that began with the log durable to LSN 40 does.
        let mut marked = bytes.clone();
        let mark_lsn = marked.len() as Lsn;
        encode(FLUSH_MARK_TYPE, mark_lsn, &40u64.to_le_bytes(), &mut marked);
        let (records, end) = records_of(&marked, 0, 4096);
        assert_eq!(records.len(), 1);
        let error = end.unwrap_err();
        assert!(matches!(error, Error::Corrupt(_)));
        assert!(
            error.to_string().contains("LSN 20") && error.to_string().contains("durable to LSN 40"),
            "{error}"
        );
        // One that began durable only to LSN 20 does not.
        let mut early = bytes.clone();
        encode(FLUSH_MARK_TYPE, mark_lsn, &20u64.to_le_bytes(), &mut early);
        assert!(matches!(
            records_of(&early, 0, 4096).1.unwrap(),
            SegmentEnd::Tail { lsn: 20, .. }
        ));
        // `set_flush_mark` fills in a placeholder mark the same way.
        let mut placeholder = Vec::new();
        encode(FLUSH_MARK_TYPE, mark_lsn, &[0; 8], &mut placeholder);
        set_flush_mark(&mut placeholder, 40);
        assert_eq!(&placeholder[..], &marked[mark_lsn as usize..]);
    }

    #[test]
    fn checksummed_record_at_the_wrong_place_is_corruption() {
        let mut bytes = Vec::new();
        encode(1, 99, b"x", &mut bytes);
        let error = records_of(&bytes, 0, 4096).1.unwrap_err();
        assert!(error.to_string().contains("carries LSN 99"), "{error}");
        let mut bytes = Vec::new();
        encode(0, 0, b"", &mut bytes);
        assert!(records_of(&bytes, 0, 4096).1.is_err());
    }

    #[test]
    fn segment_end_and_short_rest_complete_a_segment() {
        let mut bytes = segment(&[(b"a", 1)], 0);
        encode(SEGMENT_END_TYPE, 18, b"", &mut bytes);
        let (records, end) = records_of(&bytes, 0, 100);
        assert_eq!(records.len(), 1);
        assert_eq!(end.unwrap(), SegmentEnd::Full);
        // 18 + (17 + 22) = 57 bytes leave 7 < 17 of a 64-byte segment:
        // full without an end record.
        let bytes = segment(&[(b"a", 1), (&[9u8; 22], 1)], 0);
        assert_eq!(bytes.len(), 57);
        let (records, end) = records_of(&bytes, 0, 64);
        assert_eq!(records.len(), 2);
        assert_eq!(end.unwrap(), SegmentEnd::Full);
        // Too long for the segment: corrupt, not a panic.
        assert!(records_of(&[0u8; 65], 0, 64).1.is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let mut state = 0x1234_5678_9abc_def0u64;
        for round in 0..200 {
            let length = round * 7 % 300;
            let bytes: Vec<u8> = (0..length)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let _ = records_of(&bytes, 0, 512);
        }
    }
}
