//! Tests of the WAL as a whole, mostly over the crash-simulating file system.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::record::{FLUSH_MARK_SIZE, RECORD_OVERHEAD, segment_path};
use super::*;
use crate::error::{Error, Result};
use crate::storage::vfs::{FileSystem, OsFileSystem, SimulatedFileSystem};

const DATA_DIR: &str = "/db";

fn options(segment_size: u64) -> WalOptions {
    WalOptions {
        segment_size,
        buffer_limit: 1 << 20,
    }
}

fn open(fs: &SimulatedFileSystem, segment_size: u64) -> Result<(Wal, Lsn)> {
    Wal::open(
        Arc::new(fs.clone()),
        Path::new(DATA_DIR),
        options(segment_size),
    )
}

fn wal_directory() -> std::path::PathBuf {
    Path::new(DATA_DIR).join("wal")
}

/// The payload of record `index`: its index, then filler of varying length.
fn payload(index: usize) -> Vec<u8> {
    let mut bytes = (index as u32).to_le_bytes().to_vec();
    bytes.extend(std::iter::repeat_n(index as u8, index * 7 % 61));
    bytes
}

fn record_type(index: usize) -> u8 {
    1 + (index % 3) as u8
}

fn read_everything(wal: &Wal, from: Lsn) -> Vec<WalRecord> {
    wal.read_from(from)
        .unwrap()
        .collect::<Result<Vec<_>>>()
        .unwrap()
}

fn assert_is_the_log(records: &[WalRecord], starts: &[Lsn]) {
    for (index, record) in records.iter().enumerate() {
        assert_eq!(record.lsn, starts[index], "record {index}");
        assert_eq!(record.record_type, record_type(index), "record {index}");
        assert_eq!(record.payload, payload(index), "record {index}");
    }
}

/// Appends `count` records, returning the start LSN of each and the end.
fn append_records(wal: &Wal, first: usize, count: usize) -> (Vec<Lsn>, Lsn) {
    let mut starts = Vec::new();
    let mut end = 0;
    for index in first..first + count {
        let bytes = payload(index);
        let (start, after) = wal
            .append_placed(record_type(index), |_| bytes.clone())
            .unwrap();
        starts.push(start);
        end = after;
    }
    (starts, end)
}

#[test]
fn round_trip_across_segments_and_reopen_continues_at_the_end() {
    let fs = SimulatedFileSystem::new(1);
    let (wal, end) = open(&fs, 256).unwrap();
    assert_eq!(end, 0);
    let (mut starts, end) = append_records(&wal, 0, 200);
    assert_eq!(wal.flushed_lsn(), 0);
    assert!(
        read_everything(&wal, 0).is_empty(),
        "only flushed records are read"
    );
    wal.flush(end).unwrap();
    assert_eq!(wal.flushed_lsn(), end);
    let records = read_everything(&wal, 0);
    assert_eq!(records.len(), 200);
    assert_is_the_log(&records, &starts);
    let segments = fs.list(&wal_directory()).unwrap();
    assert!(segments.len() > 10, "{} segments", segments.len());
    assert_eq!(segments[1], segment_path(&wal_directory(), 256));
    // No record straddles a boundary.
    for (record, start) in records.iter().zip(&starts) {
        let last_byte = start + (RECORD_OVERHEAD + record.payload.len()) as u64 - 1;
        assert_eq!(start / 256, last_byte / 256);
    }
    // Reading from the middle yields the suffix.
    let middle = read_everything(&wal, starts[120]);
    assert_eq!(middle.len(), 80);
    assert_eq!(middle[0].lsn, starts[120]);
    drop(wal);

    let (wal, reopened_end) = open(&fs, 256).unwrap();
    assert_eq!(reopened_end, end);
    assert_eq!(wal.flushed_lsn(), end);
    let (more, end) = append_records(&wal, 200, 50);
    assert!(more[0] >= reopened_end);
    starts.extend(more);
    wal.flush(end).unwrap();
    drop(wal);
    let (wal, _) = open(&fs, 256).unwrap();
    let records = read_everything(&wal, 0);
    assert_eq!(records.len(), 250);
    assert_is_the_log(&records, &starts);
}

#[test]
fn works_on_the_real_file_system() {
    let directory = tempfile::tempdir().unwrap();
    let fs: Arc<dyn FileSystem> = Arc::new(OsFileSystem);
    let (wal, _) = Wal::open(Arc::clone(&fs), directory.path(), options(1024)).unwrap();
    let (starts, end) = append_records(&wal, 0, 40);
    wal.flush(end).unwrap();
    drop(wal);
    let (wal, reopened_end) = Wal::open(fs, directory.path(), options(1024)).unwrap();
    assert_eq!(reopened_end, end);
    assert_is_the_log(&read_everything(&wal, 0), &starts);
}

/// Appends and flushes at pseudo-random points until an error, returning
/// what was appended and how many records a flush acknowledged.
fn workload(wal: &Wal, seed: u64, records: usize) -> (Vec<Lsn>, usize) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut starts = Vec::new();
    let mut acknowledged = 0;
    for index in 0..records {
        let bytes = payload(index);
        let Ok((start, end)) = wal.append_placed(record_type(index), |_| bytes.clone()) else {
            break;
        };
        starts.push(start);
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        if state.is_multiple_of(4) {
            if wal.flush(end).is_err() {
                break;
            }
            acknowledged = starts.len();
        }
    }
    (starts, acknowledged)
}

#[test]
fn crash_at_every_sync_keeps_flushed_records_and_never_corrupts() {
    let segment_size = 512;
    // Count the syncs of an undisturbed run.
    let fs = SimulatedFileSystem::new(0);
    let (wal, _) = open(&fs, segment_size).unwrap();
    let (_, acknowledged) = workload(&wal, 0, 150);
    assert!(acknowledged > 100);
    let total_syncs = fs.sync_count();
    drop(wal);
    let (mut lost_unflushed, mut kept_unflushed, mut torn) = (0, 0, 0);
    for seed in 0..3 {
        for failing in 1..=total_syncs {
            let fs = SimulatedFileSystem::new(seed * 1000 + failing);
            fs.fail_sync_number(failing);
            // Opening a new log syncs its zero-filled first segment: if that
            // sync fails, the log refuses to open, which is all it can do.
            let Ok((wal, _)) = open(&fs, segment_size) else {
                assert_eq!(failing, 1);
                continue;
            };
            let (starts, acknowledged) = workload(&wal, 0, 150);
            fs.crash();
            drop(wal);
            let (wal, end) = open(&fs, segment_size)
                .unwrap_or_else(|error| panic!("sync {failing}, seed {seed}: {error}"));
            let records = read_everything(&wal, 0);
            assert!(
                records.len() >= acknowledged && records.len() <= starts.len(),
                "sync {failing}: {} records, {acknowledged} acknowledged",
                records.len()
            );
            assert_is_the_log(&records, &starts);
            if records.len() < starts.len() {
                lost_unflushed += 1;
            }
            if records.len() > acknowledged {
                kept_unflushed += 1;
            }
            torn += fs.torn_write_count();
            // New records follow the last valid one and survive a reopen.
            let index = records.len();
            let after = wal.append(record_type(index), &payload(index)).unwrap();
            wal.flush(after).unwrap();
            assert!(after > end);
            drop(wal);
            let (wal, _) = open(&fs, segment_size).unwrap();
            let records = read_everything(&wal, 0);
            assert_eq!(records.len(), index + 1);
            assert_eq!(records[index].payload, payload(index));
        }
    }
    // The crash outcomes were really exercised: unflushed records both lost
    // and kept, and torn writes cut off by `open`.
    assert!(lost_unflushed > 0 && kept_unflushed > 0 && torn > 0);
}

#[test]
fn torn_tail_is_cut_and_appends_follow_it() {
    let fs = SimulatedFileSystem::new(2);
    let (wal, _) = open(&fs, 4096).unwrap();
    let (starts, end) = append_records(&wal, 0, 5);
    wal.flush(end).unwrap();
    drop(wal);
    let segment = fs.open(&segment_path(&wal_directory(), 0)).unwrap();
    // Half a record header, then zeros: a torn write.
    segment.write_at(&[40, 0, 0, 0, 1, 9], end).unwrap();
    segment.write_at(&[0u8; 100], end + 6).unwrap();
    segment.sync().unwrap();
    let (wal, reopened_end) = open(&fs, 4096).unwrap();
    assert_eq!(reopened_end, end);
    // The garbage is gone, and the rest of the segment is zeros again.
    assert_eq!(segment.size().unwrap(), 4096);
    let mut rest = vec![1u8; 4096 - end as usize];
    segment.read_at(&mut rest, end).unwrap();
    assert!(rest.iter().all(|&byte| byte == 0), "garbage zeroed");
    let next = wal.append(record_type(5), &payload(5)).unwrap();
    wal.flush(next).unwrap();
    let records = read_everything(&wal, 0);
    assert_eq!(records.len(), 6);
    assert_is_the_log(&records[..5], &starts);
    // After the new flush's mark.
    assert_eq!(records[5].lsn, end + FLUSH_MARK_SIZE as u64);
}

#[test]
fn preallocated_segments_are_renamed_into_place_and_leftovers_removed() {
    let fs = SimulatedFileSystem::new(3);
    let (wal, _) = open(&fs, 4096).unwrap();
    let listed = |fs: &SimulatedFileSystem| -> Vec<String> {
        fs.list(&wal_directory())
            .unwrap()
            .iter()
            .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    let mut starts = Vec::new();
    let mut end = 0;
    let mut next = 0;
    let mut append_until = |limit: Lsn, starts: &mut Vec<Lsn>, end: &mut Lsn| {
        while *end < limit {
            let (more, new_end) = append_records(&wal, next, 1);
            starts.extend(more);
            *end = new_end;
            next += 1;
        }
        wal.flush(*end).unwrap();
    };
    // Under half a segment: too early to preallocate.
    append_until(1000, &mut starts, &mut end);
    wal.preallocate_next_segment().unwrap();
    assert!(!listed(&fs).iter().any(|name| name.ends_with(".prealloc")));
    append_until(2048 + 64, &mut starts, &mut end);
    wal.preallocate_next_segment().unwrap();
    assert!(listed(&fs).contains(&"0000000000001000.prealloc".to_string()));
    // Crossing into the preallocated segment renames it into place.
    append_until(4096 + 64, &mut starts, &mut end);
    let names = listed(&fs);
    assert!(
        names.contains(&"0000000000001000.wal".to_string()),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|name| name.ends_with(".prealloc")),
        "{names:?}"
    );
    // A preallocation the log never reached is removed by `open`.
    append_until(4096 + 2048 + 64, &mut starts, &mut end);
    assert!(end < 2 * 4096);
    wal.preallocate_next_segment().unwrap();
    assert!(listed(&fs).contains(&"0000000000002000.prealloc".to_string()));
    drop(wal);
    let (wal, reopened_end) = open(&fs, 4096).unwrap();
    assert_eq!(reopened_end, end);
    assert!(!listed(&fs).iter().any(|name| name.ends_with(".prealloc")));
    assert_is_the_log(&read_everything(&wal, 0), &starts);
}

#[test]
fn mid_log_corruption_is_refused_with_the_lsn() {
    let fs = SimulatedFileSystem::new(3);
    let (wal, _) = open(&fs, 4096).unwrap();
    // One flush per record: the marks of later flushes prove record 3 was
    // durable (in the last flush, damage would look like a torn write).
    let mut starts = Vec::new();
    for index in 0..10 {
        let (start, end) = append_records(&wal, index, 1);
        wal.flush(end).unwrap();
        starts.extend(start);
    }
    drop(wal);
    let segment = fs.open(&segment_path(&wal_directory(), 0)).unwrap();
    let mut byte = [0u8; 1];
    segment.read_at(&mut byte, starts[3] + 14).unwrap();
    segment.write_at(&[byte[0] ^ 0x10], starts[3] + 14).unwrap();
    segment.sync().unwrap();
    let error = open(&fs, 4096).err().expect("corruption must be refused");
    assert!(matches!(error, Error::Corrupt(_)), "{error}");
    assert!(
        error.to_string().contains(&format!("LSN {}", starts[3])),
        "{error}"
    );
}

#[test]
fn damage_in_a_non_last_segment_is_corruption() {
    let fs = SimulatedFileSystem::new(4);
    let (wal, _) = open(&fs, 256).unwrap();
    let (starts, end) = append_records(&wal, 0, 60);
    wal.flush(end).unwrap();
    drop(wal);
    // Cut the last record of the first segment.
    let last_in_first = starts.iter().rposition(|start| *start < 256).unwrap();
    let segment = fs.open(&segment_path(&wal_directory(), 0)).unwrap();
    segment.set_size(starts[last_in_first] + 3).unwrap();
    segment.sync().unwrap();
    let error = open(&fs, 256).err().expect("corruption must be refused");
    assert!(matches!(error, Error::Corrupt(_)), "{error}");
    assert!(
        error
            .to_string()
            .contains(&format!("LSN {}", starts[last_in_first])),
        "{error}"
    );
    // A missing segment in the middle too.
    fs.remove(&segment_path(&wal_directory(), 512)).unwrap();
    let error = open(&fs, 256).err().expect("a gap must be refused");
    assert!(error.to_string().contains("missing"), "{error}");
}

#[test]
fn group_commit_shares_syncs_and_acknowledged_records_are_durable() {
    let fs = SimulatedFileSystem::new(5);
    let (wal, _) = open(&fs, 64 * 1024).unwrap();
    // A lone flusher syncs at once, exactly once.
    let before = fs.sync_count();
    let end = wal.append(1, b"alone").unwrap();
    wal.flush(end).unwrap();
    assert_eq!(fs.sync_count() - before, 1);

    fs.set_sync_delay(Duration::from_millis(2));
    let threads = 8;
    let per_thread = 30;
    let before = fs.sync_count();
    let wal = Arc::new(wal);
    let acknowledged: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let wal = Arc::clone(&wal);
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    for index in 0..per_thread {
                        let bytes = format!("thread {thread} record {index}").into_bytes();
                        let end = wal.append(2, &bytes).unwrap();
                        wal.flush(end).unwrap();
                        assert!(wal.flushed_lsn() >= end);
                        mine.push(bytes);
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap())
            .collect()
    });
    let commits = (threads * per_thread) as u64;
    let syncs = fs.sync_count() - before;
    // Two commits per sync at the least (about half the committers wait
    // while a sync runs; a busy machine can make rounds smaller).
    assert!(syncs * 2 <= commits, "{syncs} syncs for {commits} commits");

    fs.crash();
    drop(wal);
    let (wal, _) = open(&fs, 64 * 1024).unwrap();
    let mut durable: Vec<Vec<u8>> = read_everything(&wal, 0)
        .into_iter()
        .filter(|record| record.record_type == 2)
        .map(|record| record.payload)
        .collect();
    let mut expected = acknowledged;
    durable.sort();
    expected.sort();
    assert_eq!(durable, expected);
}

#[test]
fn many_flushers_are_all_woken_by_the_wake_tree() {
    // More threads than cores, fast syncs: released waiters wake each other
    // and leaders hand over often. A lost wakeup would hang a thread, which
    // the watchdog turns into a failure.
    let fs = SimulatedFileSystem::new(9);
    let (wal, _) = open(&fs, 1024 * 1024).unwrap();
    let wal = Arc::new(wal);
    let (done, finished) = std::sync::mpsc::channel();
    let threads = 32;
    for thread in 0..threads {
        let (wal, done) = (Arc::clone(&wal), done.clone());
        std::thread::spawn(move || {
            for index in 0..300 {
                let end = wal
                    .append(2, format!("{thread}/{index}").as_bytes())
                    .unwrap();
                wal.flush(end).unwrap();
                assert!(wal.flushed_lsn() >= end);
            }
            done.send(thread).unwrap();
        });
    }
    for _ in 0..threads {
        finished
            .recv_timeout(Duration::from_secs(120))
            .expect("a flusher was never woken");
    }
    assert!(wal.group_flushes() < threads as u64 * 300);
}

#[test]
fn failed_sync_poisons_the_wal() {
    let fs = SimulatedFileSystem::new(6);
    let (wal, _) = open(&fs, 4096).unwrap();
    let first = wal.append(1, b"kept").unwrap();
    wal.flush(first).unwrap();
    let second = wal.append(1, b"lost").unwrap();
    fs.fail_next_sync();
    assert!(matches!(wal.flush(second), Err(Error::Io(_))));
    assert_eq!(wal.flushed_lsn(), first);
    for error in [
        wal.flush(second).unwrap_err(),
        wal.flush(first).unwrap_err(),
        wal.append(1, b"more").unwrap_err(),
    ] {
        assert!(error.to_string().contains("unusable"), "{error}");
    }
    // A failed write poisons too.
    let fs = SimulatedFileSystem::new(7);
    let (wal, _) = open(&fs, 4096).unwrap();
    let end = wal.append(1, b"x").unwrap();
    fs.fail_next_write();
    assert!(wal.flush(end).is_err());
    assert!(wal.append(1, b"y").is_err());
}

#[test]
fn remove_segments_before_a_checkpoint() {
    let fs = SimulatedFileSystem::new(8);
    let (wal, _) = open(&fs, 256).unwrap();
    let (starts, end) = append_records(&wal, 0, 100);
    assert!(wal.remove_segments_before(end).is_err(), "not flushed yet");
    wal.flush(end).unwrap();
    let segments = fs.list(&wal_directory()).unwrap().len();
    let checkpoint = starts[50];
    let removed = wal.remove_segments_before(checkpoint).unwrap();
    assert_eq!(removed as u64, checkpoint / 256);
    assert_eq!(fs.list(&wal_directory()).unwrap().len(), segments - removed);
    let suffix = read_everything(&wal, checkpoint);
    assert_eq!(suffix.len(), 50);
    assert_eq!(suffix[0].payload, payload(50));
    assert!(wal.read_from(0).is_err(), "the start of the log is gone");
    // Everything below the end: all but the newest segment.
    wal.remove_segments_before(end).unwrap();
    assert_eq!(fs.list(&wal_directory()).unwrap().len(), 1);
    drop(wal);
    let (wal, reopened_end) = open(&fs, 256).unwrap();
    assert_eq!(reopened_end, end);
    let (_, next) = append_records(&wal, 100, 1);
    wal.flush(next).unwrap();
    assert_eq!(read_everything(&wal, end).len(), 1);
}

#[test]
fn reserved_types_and_oversized_records_are_refused() {
    let fs = SimulatedFileSystem::new(9);
    let (wal, _) = open(&fs, 128).unwrap();
    assert!(wal.append(0, b"").is_err());
    assert!(wal.append(255, b"").is_err());
    assert!(
        wal.append(254, b"").is_err(),
        "flush marks are the log's own"
    );
    // A record must fit in a segment after the flush mark its chunk starts
    // with: 128 - 25 - 17 = 86 payload bytes at most.
    assert!(wal.append(1, &[0u8; 87]).is_err());
    let end = wal.append(1, &[0u8; 86]).unwrap();
    assert_eq!(end, 128);
    assert!(wal.flush(end + 1).is_err(), "beyond the end");
    assert!(Wal::open(Arc::new(fs.clone()), Path::new("/x"), options(10)).is_err());
}

#[test]
fn a_hole_inside_the_last_flush_is_a_torn_tail_not_corruption() {
    let fs = SimulatedFileSystem::new(5);
    let (wal, _) = open(&fs, 8192).unwrap();
    let (mut starts, end) = append_records(&wal, 0, 3);
    wal.flush(end).unwrap();
    let (last_flush, last_end) = append_records(&wal, 3, 40);
    wal.flush(last_end).unwrap();
    starts.extend(last_flush);
    drop(wal);
    // The power went off during the last flush's write, and the device
    // kept its later sectors but not an earlier one.
    let hole = (end / 512 + 1) * 512;
    assert!(
        hole + 1024 < last_end,
        "the last flush spans several sectors"
    );
    let segment = fs.open(&segment_path(&wal_directory(), 0)).unwrap();
    segment.write_at(&[0u8; 512], hole).unwrap();
    segment.sync().unwrap();
    let (wal, reopened_end) = open(&fs, 8192).expect("a torn write is not damage");
    assert!(
        end <= reopened_end && reopened_end <= hole,
        "{reopened_end}"
    );
    let records = read_everything(&wal, 0);
    assert!(records.len() >= 3);
    assert_is_the_log(&records, &starts[..records.len()]);
    // What followed the hole is gone, and the log goes on from its end.
    let next = wal
        .append(record_type(records.len()), &payload(records.len()))
        .unwrap();
    wal.flush(next).unwrap();
    drop(wal);
    let (wal, _) = open(&fs, 8192).unwrap();
    assert_eq!(read_everything(&wal, 0).len(), records.len() + 1);
}
