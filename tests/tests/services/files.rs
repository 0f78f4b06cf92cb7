//! Sealed files (ADR 016): streamed in and out of the file store in authenticated chunks
//! under a per-file key wrapped by the data key; truncation, reordering and tampering are
//! errors, never short plaintext; a rotation rewraps keys, not objects; memory stays
//! bounded whatever the size; abandoned and unused uploads are swept after a day.

use std::io::Read;
use std::sync::Arc;

use chrono::Duration;
use futures_util::StreamExt;
use gongyou_db::files as records;
use gongyou_db::jobs::Job;
use gongyou_providers::files::{FileStore, FileStoreSettings, PART_SIZE};
use gongyou_services::crypto::DataCrypto;
use gongyou_services::files::{
    RewrapReport, SealedFiles, SealedReader, StoredFile, SweepReport, CHUNK_SIZE, HEADER_LEN,
    MAX_WRITER_BUFFERED, TAG_LEN,
};
use gongyou_services::{Kind, ServiceError};
use gongyou_tests::services::TestServices;
use sha2::{Digest, Sha256};

const OLD_SECRET: &str = "old-file-secret-old-file-secret-000001";
const NEW_SECRET: &str = "new-file-secret-new-file-secret-000002";
const OTHER_SECRET: &str = "another-file-secret-another-secret-0003";

/// `len` deterministic, incompressible-looking bytes (xorshift), different per `seed`.
fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The object's size for `n` plaintext bytes: header, plaintext, one tag per chunk (a
/// file has at least one chunk, the last one, which may be empty).
fn sealed_len(n: usize) -> usize {
    let chunks = n.div_ceil(CHUNK_SIZE).max(1);
    HEADER_LEN + n + chunks * TAG_LEN
}

/// Writes `bytes` as a sealed `roster` in pieces of `piece` bytes.
async fn write(files: &SealedFiles, bytes: &[u8], piece: usize) -> StoredFile {
    let mut writer = files.begin("roster", None).await.unwrap();
    for part in bytes.chunks(piece.max(1)) {
        writer.write(part).await.unwrap();
    }
    writer.finish().await.unwrap()
}

/// What opening the file yields: the plaintext delivered before the end or the first
/// error, and that error. Every item is at most one chunk.
async fn read(files: &SealedFiles, id: &str) -> (Vec<u8>, Option<ServiceError>) {
    let mut stream = match files.open(id).await {
        Ok(stream) => stream,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => {
                assert!(
                    chunk.len() <= CHUNK_SIZE,
                    "an item of {} bytes",
                    chunk.len()
                );
                out.extend_from_slice(&chunk);
            }
            Err(e) => {
                assert!(stream.next().await.is_none(), "nothing follows an error");
                return (out, Some(e));
            }
        }
    }
    (out, None)
}

async fn read_ok(files: &SealedFiles, id: &str) -> Vec<u8> {
    let (bytes, error) = read(files, id).await;
    if let Some(e) = error {
        panic!("{id} did not open: {e}");
    }
    bytes
}

/// Reads the file through the blocking reader on a blocking thread, as a parsing job would.
async fn read_blocking(files: &SealedFiles, id: &str) -> Result<Vec<u8>, ServiceError> {
    let mut reader = files.open_blocking(id).await?;
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        reader
            .read_to_end(&mut out)
            .map(|_| out)
            .map_err(SealedReader::service_error)
    })
    .await
    .unwrap()
}

async fn record(s: &TestServices, id: &str) -> records::StoredFile {
    let id = id.to_owned();
    s.ctx
        .db
        .run(move |conn| records::get(conn, &id))
        .await
        .unwrap()
        .unwrap()
}

fn sealed_files(s: &TestServices, crypto: DataCrypto) -> SealedFiles {
    SealedFiles::new(
        s.ctx.providers.files.clone(),
        crypto,
        s.ctx.db.clone(),
        s.ctx.clock.clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_round_trip_in_chunks_and_the_object_holds_no_plaintext() {
    let s = TestServices::start().await;
    let files = &s.ctx.sealed_files;
    let store = &s.ctx.providers.files;

    // Many chunks and an odd tail, written in pieces that straddle chunk boundaries.
    let big = content(3 * 1024 * 1024 + 12_345, 1);
    let stored = write(files, &big, 10_007).await;
    assert_eq!(stored.size, big.len() as u64);
    assert_eq!(stored.sha256, sha256_hex(&big));
    assert_eq!(read_ok(files, &stored.id).await, big);
    assert_eq!(read_blocking(files, &stored.id).await.unwrap(), big);
    let r = record(&s, &stored.id).await;
    assert_eq!(
        (
            r.state.as_str(),
            r.purpose.as_str(),
            r.size,
            r.sha256.as_deref()
        ),
        (
            "stored",
            "roster",
            Some(big.len() as i64),
            Some(stored.sha256.as_str())
        )
    );
    assert_eq!(r.object_key, format!("sealed/roster/{}", stored.id));
    assert_eq!(r.key_id, s.ctx.crypto.key_id());
    assert!(r.stored_at.is_some() && r.attached_at.is_none());
    assert_eq!(
        store.size(&r.object_key).await.unwrap(),
        Some(sealed_len(big.len()) as u64)
    );

    // Empty: one empty last chunk, which still authenticates.
    let empty = write(files, &[], 1).await;
    assert_eq!(
        (empty.size, empty.sha256.as_str()),
        (
            0,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )
    );
    assert!(read_ok(files, &empty.id).await.is_empty());
    assert!(read_blocking(files, &empty.id).await.unwrap().is_empty());
    let key = record(&s, &empty.id).await.object_key;
    assert_eq!(
        store.size(&key).await.unwrap(),
        Some((HEADER_LEN + TAG_LEN) as u64)
    );

    // Exact multiples of the chunk size: the last chunk is a full one, written in one piece
    // or in pieces that end on the boundary.
    for (len, piece) in [
        (CHUNK_SIZE, CHUNK_SIZE),
        (2 * CHUNK_SIZE, CHUNK_SIZE),
        (3 * CHUNK_SIZE, 3 * CHUNK_SIZE),
        (CHUNK_SIZE - 1, 1000),
        (CHUNK_SIZE + 1, 7),
    ] {
        let bytes = content(len, len as u64);
        let stored = write(files, &bytes, piece).await;
        assert_eq!(read_ok(files, &stored.id).await, bytes, "{len} by {piece}");
        let key = record(&s, &stored.id).await.object_key;
        assert_eq!(
            store.size(&key).await.unwrap(),
            Some(sealed_len(len) as u64),
            "{len}"
        );
    }

    // The object is ciphertext: no row of a roster shows through.
    let roster: Vec<u8> = (0..20_000)
        .map(|i| format!("11010519491231{i:04},张三{i},美团,510104\n"))
        .collect::<String>()
        .into_bytes();
    let stored = write(files, &roster, 4096).await;
    let key = record(&s, &stored.id).await.object_key;
    let object = store.get(&key).await.unwrap().unwrap();
    assert_eq!(object.len(), sealed_len(roster.len()));
    assert_eq!(&object[..5], b"GYSF\x01");
    for needle in [
        &b"110105194912310"[..],
        "张三".as_bytes(),
        "美团".as_bytes(),
    ] {
        assert!(
            !object.windows(needle.len()).any(|w| w == needle),
            "plaintext {:?} in the object",
            String::from_utf8_lossy(needle)
        );
    }
    assert_eq!(read_ok(files, &stored.id).await, roster);

    // Two files of the same content are sealed differently (own key, own nonce prefix).
    let again = write(files, &roster, 4096).await;
    let other = store
        .get(&record(&s, &again.id).await.object_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.sha256, stored.sha256);
    assert_ne!(
        other[HEADER_LEN..HEADER_LEN + 64],
        object[HEADER_LEN..HEADER_LEN + 64]
    );
}

#[tokio::test]
async fn a_truncated_reordered_or_tampered_object_is_an_error_not_short_plaintext() {
    let s = TestServices::start().await;
    let files = &s.ctx.sealed_files;
    let store = &s.ctx.providers.files;
    // Three chunks, the last one short.
    let plaintext = content(2 * CHUNK_SIZE + 100, 7);
    let stored = write(files, &plaintext, 50_000).await;
    let key = record(&s, &stored.id).await.object_key;
    let original = store.get(&key).await.unwrap().unwrap();
    let frame = CHUNK_SIZE + TAG_LEN;
    assert_eq!(original.len(), HEADER_LEN + 2 * frame + 100 + TAG_LEN);
    let chunk = |i: usize| original[HEADER_LEN + i * frame..HEADER_LEN + (i + 1) * frame].to_vec();
    let flipped = |at: usize| {
        let mut bytes = original.clone();
        bytes[at] ^= 0x01;
        bytes
    };

    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "the last chunk dropped",
            original[..HEADER_LEN + 2 * frame].to_vec(),
        ),
        (
            "the last two chunks dropped",
            original[..HEADER_LEN + frame].to_vec(),
        ),
        ("one byte short", original[..original.len() - 1].to_vec()),
        (
            "cut inside a chunk",
            original[..HEADER_LEN + frame + 1000].to_vec(),
        ),
        ("only the header", original[..HEADER_LEN].to_vec()),
        ("shorter than a header", original[..7].to_vec()),
        ("empty", Vec::new()),
        (
            "a byte flipped in the first chunk",
            flipped(HEADER_LEN + 10),
        ),
        (
            "a byte flipped in the second chunk",
            flipped(HEADER_LEN + frame + 5),
        ),
        ("the last tag flipped", flipped(original.len() - 1)),
        ("the magic flipped", flipped(0)),
        ("the version changed", flipped(4)),
        ("the chunk size changed", flipped(7)),
        ("the nonce prefix flipped", flipped(12)),
        ("two chunks swapped", {
            let mut bytes = original[..HEADER_LEN].to_vec();
            bytes.extend(chunk(1));
            bytes.extend(chunk(0));
            bytes.extend_from_slice(&original[HEADER_LEN + 2 * frame..]);
            bytes
        }),
        ("a chunk appended", {
            let mut bytes = original.clone();
            bytes.extend(chunk(0));
            bytes
        }),
        ("a byte appended", {
            let mut bytes = original.clone();
            bytes.push(0);
            bytes
        }),
        ("another file's object", {
            let other = write(files, &plaintext, 50_000).await;
            let other_key = record(&s, &other.id).await.object_key;
            store.get(&other_key).await.unwrap().unwrap()
        }),
    ];
    for (case, bytes) in cases {
        store.put(&key, bytes).await.unwrap();
        let (delivered, error) = read(files, &stored.id).await;
        let error = error.unwrap_or_else(|| panic!("{case}: opened without an error"));
        assert_eq!(
            (error.kind(), error.code()),
            (Kind::Internal, "file.corrupt"),
            "{case}"
        );
        assert!(
            delivered.len() < plaintext.len() && plaintext.starts_with(&delivered),
            "{case}: delivered {} bytes that are not a strict prefix",
            delivered.len()
        );
        let blocking = read_blocking(files, &stored.id).await.unwrap_err();
        assert_eq!(blocking.code(), "file.corrupt", "{case}");
    }

    // The object gone from under its record.
    store.delete(&key).await.unwrap();
    let (_, error) = read(files, &stored.id).await;
    assert_eq!(error.unwrap().code(), "file.corrupt");

    // Put back whole, it opens again.
    store.put(&key, original).await.unwrap();
    assert_eq!(read_ok(files, &stored.id).await, plaintext);

    // Unknown ids, and ids of files not stored, are not found.
    let (_, error) = read(files, "0190a000-0000-7000-8000-000000000000").await;
    assert_eq!(error.unwrap().code(), "file.not_found");
    let unfinished = files.begin("roster", None).await.unwrap();
    let (_, error) = read(files, unfinished.id()).await;
    assert_eq!(error.unwrap().code(), "file.not_found");
}

#[tokio::test]
async fn a_key_rotation_rewraps_file_keys_without_touching_objects() {
    let s = TestServices::start().await;
    let store = &s.ctx.providers.files;
    let before = sealed_files(&s, DataCrypto::new(OLD_SECRET, &[]));
    let old_key_id = DataCrypto::new(OLD_SECRET, &[]).key_id().to_owned();
    let new_key_id = DataCrypto::new(NEW_SECRET, &[]).key_id().to_owned();

    let a_bytes = content(CHUNK_SIZE * 2 + 3, 11);
    let a = write(&before, &a_bytes, 9_999).await;
    let b_bytes = content(500, 12);
    let b = write(&before, &b_bytes, 500).await;
    let deleted = write(&before, &b_bytes, 500).await;
    before.delete(&deleted.id).await.unwrap();
    assert_eq!(record(&s, &a.id).await.key_id, old_key_id);
    let a_key = record(&s, &a.id).await.object_key;
    let a_object = store.get(&a_key).await.unwrap().unwrap();

    // Rotated: the new secret current, the old one previous. Old files still open; new
    // ones are wrapped under the new key.
    let rotated = sealed_files(&s, DataCrypto::new(NEW_SECRET, &[OLD_SECRET]));
    assert_eq!(read_ok(&rotated, &a.id).await, a_bytes);
    let c_bytes = content(CHUNK_SIZE + 1, 13);
    let c = write(&rotated, &c_bytes, 4096).await;
    assert_eq!(record(&s, &c.id).await.key_id, new_key_id);
    // Without the new secret, the new file's key cannot be unwrapped.
    let (_, error) = read(&before, &c.id).await;
    assert_eq!(error.unwrap().code(), "file.corrupt");

    // A file under a third key that this configuration does not know.
    let stray = sealed_files(&s, DataCrypto::new(OTHER_SECRET, &[]));
    let d = write(&stray, &b_bytes, 100).await;

    let report = rotated.rewrap_keys().await.unwrap();
    assert_eq!(
        report,
        RewrapReport {
            rewrapped: 2,
            failed: 1
        }
    );
    for id in [&a.id, &b.id, &c.id] {
        assert_eq!(record(&s, id).await.key_id, new_key_id);
    }
    assert_eq!(
        record(&s, &deleted.id).await.wrapped_key,
        None,
        "a deleted file keeps no key to rewrap"
    );
    // The objects were not rewritten.
    assert_eq!(store.get(&a_key).await.unwrap().unwrap(), a_object);

    // With the old secret dropped, everything rewrapped opens with the new one alone.
    let after = sealed_files(&s, DataCrypto::new(NEW_SECRET, &[]));
    assert_eq!(read_ok(&after, &a.id).await, a_bytes);
    assert_eq!(read_ok(&after, &b.id).await, b_bytes);
    assert_eq!(read_ok(&after, &c.id).await, c_bytes);
    assert_eq!(read_blocking(&after, &a.id).await.unwrap(), a_bytes);
    // The stray file is still under its own key (and opens with it).
    assert_eq!(read_ok(&stray, &d.id).await, b_bytes);

    // Nothing left to do but the stray.
    assert_eq!(
        after.rewrap_keys().await.unwrap(),
        RewrapReport {
            rewrapped: 0,
            failed: 1
        }
    );
}

#[tokio::test]
async fn after_a_rotation_housekeeping_rewraps_file_keys_so_the_old_key_can_go() {
    // Rotated: the new secret current, the old one previous.
    let s = TestServices::start_with(
        [
            ("GONGYOU_DATA_KEY".to_owned(), NEW_SECRET.to_owned()),
            (
                "GONGYOU_DATA_KEY_PREVIOUS".to_owned(),
                OLD_SECRET.to_owned(),
            ),
        ]
        .into(),
    )
    .await;
    let old_key_id = DataCrypto::new(OLD_SECRET, &[]).key_id().to_owned();
    let new_key_id = DataCrypto::new(NEW_SECRET, &[]).key_id().to_owned();
    // A file sealed before the rotation.
    let before = sealed_files(&s, DataCrypto::new(OLD_SECRET, &[]));
    let bytes = content(CHUNK_SIZE + 5, 31);
    let old = write(&before, &bytes, 4096).await;
    assert_eq!(record(&s, &old.id).await.key_id, old_key_id);

    let at = s.ctx.now().naive_utc();
    s.ctx
        .db
        .run(move |conn| gongyou_jobs::Housekeeping {}.enqueue(conn, at).map(|_| ()))
        .await
        .unwrap();
    assert!(s.drain_jobs().await >= 1);
    assert_eq!(record(&s, &old.id).await.key_id, new_key_id);
    // The previous secret is no longer needed to read it.
    let after = sealed_files(&s, DataCrypto::new(NEW_SECRET, &[]));
    assert_eq!(read_ok(&after, &old.id).await, bytes);
}

#[tokio::test]
async fn fifty_mib_stream_through_with_bounded_memory() {
    let s = TestServices::start().await;
    let files = &s.ctx.sealed_files;
    const TOTAL: usize = 50 * 1024 * 1024;
    const PIECE: usize = 64 * 1024;
    let mut writer = files
        .begin("statement", Some("no-one-in-particular"))
        .await
        .unwrap();
    let mut expected = Sha256::new();
    let mut piece = content(PIECE, 50);
    for i in 0..TOTAL / PIECE {
        // Every piece different (its number in front), without generating 50 MiB.
        piece[..8].copy_from_slice(&(i as u64).to_le_bytes());
        expected.update(&piece);
        writer.write(&piece).await.unwrap();
        assert!(
            writer.buffered() <= MAX_WRITER_BUFFERED,
            "{} bytes held",
            writer.buffered()
        );
    }
    let peak = writer.peak_buffered();
    let stored = writer.finish().await.unwrap();
    assert_eq!(stored.size, TOTAL as u64);
    assert_eq!(stored.sha256, format!("{:x}", expected.finalize()));
    // Held at most a chunk and the upload's parts (16 MiB at most): never the file.
    assert!(peak <= MAX_WRITER_BUFFERED, "peak {peak}");
    assert!(peak < TOTAL / 3, "peak {peak}");
    // And the parts were really held while they uploaded (the measure sees them).
    assert!(peak >= PART_SIZE, "peak {peak}");

    // Read back as a stream, one chunk at a time, without collecting it.
    let mut stream = files.open(&stored.id).await.unwrap();
    let (mut size, mut hash, mut largest) = (0usize, Sha256::new(), 0usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        size += chunk.len();
        largest = largest.max(chunk.len());
        hash.update(&chunk);
    }
    assert_eq!(size, TOTAL);
    assert_eq!(largest, CHUNK_SIZE);
    assert_eq!(format!("{:x}", hash.finalize()), stored.sha256);
}

#[tokio::test]
async fn orphaned_uploads_are_swept_after_a_day_by_housekeeping() {
    let s = TestServices::start().await;
    let files = &s.ctx.sealed_files;
    let store = &s.ctx.providers.files;
    let bytes = content(CHUNK_SIZE + 10, 21);

    // An upload that died: begun, written to, never finished.
    let mut died = files.begin("roster", None).await.unwrap();
    died.write(&bytes).await.unwrap();
    let died_id = died.id().to_owned();
    drop(died);
    // Stored but never used (the import never started).
    let unused = write(files, &bytes, 1000).await;
    // Stored and attached to what used it.
    let used = write(files, &bytes, 1000).await;
    files.attach(&used.id).await.unwrap();
    files.attach(&used.id).await.unwrap();
    // An upload still under way when the sweep takes it.
    let mut slow = files
        .begin("claim_document", Some("some-account"))
        .await
        .unwrap();
    slow.write(&bytes).await.unwrap();
    let slow_id = slow.id().to_owned();
    // An upload given up.
    let mut aborted = files.begin("roster", None).await.unwrap();
    aborted.write(&bytes).await.unwrap();
    let aborted_id = aborted.id().to_owned();
    aborted.abort().await.unwrap();
    assert_eq!(record(&s, &aborted_id).await.state, "deleted");

    assert_eq!(record(&s, &died_id).await.state, "uploading");
    // Within the day: nothing is an orphan yet.
    s.clock.advance(Duration::hours(23));
    assert_eq!(files.sweep_orphans().await.unwrap(), SweepReport::default());
    // A fresh unused file, to stay.
    let fresh = write(files, &bytes, 1000).await;

    s.clock.advance(Duration::hours(2));
    let enqueued = s
        .ctx
        .db
        .run({
            let now = s.ctx.now().naive_utc();
            move |conn| gongyou_jobs::Housekeeping {}.enqueue(conn, now)
        })
        .await
        .unwrap();
    assert!(enqueued.is_some());
    assert!(s.drain_jobs().await >= 1);

    for (id, state) in [
        (&died_id, "deleted"),
        (&unused.id, "deleted"),
        (&slow_id, "deleted"),
        (&used.id, "stored"),
        (&fresh.id, "stored"),
    ] {
        let r = record(&s, id).await;
        assert_eq!(r.state, state, "{id}");
        if state == "deleted" {
            assert_eq!(r.wrapped_key, None, "{id}: its key is destroyed");
            assert!(r.deleted_at.is_some());
            assert_eq!(store.size(&r.object_key).await.unwrap(), None, "{id}");
        } else {
            assert!(store.size(&r.object_key).await.unwrap().is_some(), "{id}");
        }
    }
    let (_, error) = read(files, &unused.id).await;
    assert_eq!(error.unwrap().code(), "file.not_found");
    let late = files.attach(&unused.id).await.unwrap_err();
    assert_eq!(
        (late.kind(), late.code()),
        (Kind::NotFound, "file.not_found")
    );
    assert_eq!(read_ok(files, &used.id).await, bytes);

    // The upload swept while under way cannot finish, and leaves no object behind.
    let refused = slow.finish().await.unwrap_err();
    assert_eq!(
        (refused.kind(), refused.code()),
        (Kind::Conflict, "file.upload_expired")
    );
    let slow_key = record(&s, &slow_id).await.object_key;
    assert_eq!(store.size(&slow_key).await.unwrap(), None);

    // Swept once: the next sweep finds nothing.
    assert_eq!(files.sweep_orphans().await.unwrap(), SweepReport::default());

    // A deletion whose object removal did not happen (erasure, a failed removal) is
    // finished by the sweep.
    let used_key = record(&s, &used.id).await.object_key;
    let used_id = used.id.clone();
    let now = s.ctx.now().naive_utc();
    s.ctx
        .db
        .run(move |conn| records::begin_delete(conn, &used_id, now))
        .await
        .unwrap();
    assert_eq!(
        files.sweep_orphans().await.unwrap(),
        SweepReport {
            orphans: 0,
            removed: 1,
            failed: 0
        }
    );
    assert_eq!(store.size(&used_key).await.unwrap(), None);
    assert_eq!(record(&s, &used.id).await.state, "deleted");

    // Deleting by hand: key and object gone; again is fine; unknown is not found.
    files.delete(&fresh.id).await.unwrap();
    files.delete(&fresh.id).await.unwrap();
    let r = record(&s, &fresh.id).await;
    assert_eq!((r.state.as_str(), r.wrapped_key), ("deleted", None));
    assert_eq!(store.size(&r.object_key).await.unwrap(), None);
    let unknown = files
        .delete("0190a000-0000-7000-8000-000000000000")
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), "file.not_found");
}

#[tokio::test]
async fn erasing_a_worker_destroys_the_keys_of_their_files() {
    let s = TestServices::start().await;
    let files = &s.ctx.sealed_files;
    let bytes = content(1000, 31);
    let theirs = {
        let mut w = files
            .begin("claim_document", Some("account-of-the-worker"))
            .await
            .unwrap();
        w.write(&bytes).await.unwrap();
        w.finish().await.unwrap()
    };
    let someone_elses = {
        let mut w = files
            .begin("claim_document", Some("another-account"))
            .await
            .unwrap();
        w.write(&bytes).await.unwrap();
        w.finish().await.unwrap()
    };
    let now = s.ctx.now().naive_utc();
    s.ctx
        .db
        .run(move |conn| gongyou_db::personal::erase_person(conn, "account-of-the-worker", now))
        .await
        .unwrap();
    let r = record(&s, &theirs.id).await;
    assert_eq!(
        (r.state.as_str(), r.wrapped_key, r.sha256),
        ("deleting", None, None)
    );
    let (_, error) = read(files, &theirs.id).await;
    assert_eq!(error.unwrap().code(), "file.not_found");
    assert_eq!(read_ok(files, &someone_elses.id).await, bytes);
    // Housekeeping removes the object.
    assert_eq!(
        files.sweep_orphans().await.unwrap(),
        SweepReport {
            orphans: 0,
            removed: 1,
            failed: 0
        }
    );
    assert_eq!(
        s.ctx.providers.files.size(&r.object_key).await.unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the S3 fake (GONGYOU_TEST_S3_URL); CI runs it"]
async fn sealed_files_live_in_an_s3_compatible_bucket() {
    let s3 = std::env::var("GONGYOU_TEST_S3_URL").expect(
        "GONGYOU_TEST_S3_URL is not set: this test seals files into an S3-compatible bucket",
    );
    let bucket = format!("gongyou-test-{}", uuid::Uuid::now_v7().simple());
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let made = http.put(format!("{s3}/{bucket}")).send().await.unwrap();
    assert!(made.status().is_success(), "bucket: {}", made.status());
    let store = FileStore::from_settings(&FileStoreSettings::S3 {
        bucket: bucket.clone(),
        endpoint: Some(s3.clone()),
        region: "us-east-1".into(),
        access_key_id: "gongyou-test".into(),
        secret_access_key: "gongyou-test-secret".to_owned().into(),
        allow_http: true,
    })
    .unwrap();
    let s = TestServices::start().await;
    let files = SealedFiles::new(
        store.clone(),
        s.ctx.crypto.clone(),
        s.ctx.db.clone(),
        Arc::new(s.clock.clone()),
    );

    // Three multipart parts (5 MiB, 5 MiB and the rest).
    let big = content(2 * PART_SIZE + 777_777, 41);
    let stored = write(&files, &big, 64 * 1024).await;
    assert_eq!(stored.sha256, sha256_hex(&big));
    assert_eq!(read_ok(&files, &stored.id).await, big);
    assert_eq!(read_blocking(&files, &stored.id).await.unwrap(), big);
    let empty = write(&files, &[], 1).await;
    assert!(read_ok(&files, &empty.id).await.is_empty());

    let key = record(&s, &stored.id).await.object_key;
    let listing = http
        .get(format!("{s3}/{bucket}?list-type=2"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listing.contains(&format!("<Key>{key}</Key>")), "{listing}");
    assert!(
        listing.contains(&format!("<Size>{}</Size>", sealed_len(big.len()))),
        "{listing}"
    );
    assert!(!s.ctx.config.data_dir.join("files").join(&key).exists());

    // Tampered in the bucket: an error, not plaintext.
    let original = store.get(&key).await.unwrap().unwrap();
    let mut tampered = original.clone();
    tampered[HEADER_LEN + 3 * (CHUNK_SIZE + TAG_LEN) + 1] ^= 0x80;
    store.put(&key, tampered).await.unwrap();
    let (delivered, error) = read(&files, &stored.id).await;
    assert_eq!(error.unwrap().code(), "file.corrupt");
    assert_eq!(delivered, big[..3 * CHUNK_SIZE]);
    store.put(&key, original).await.unwrap();

    // An aborted upload leaves nothing; the unused files are swept after a day.
    let mut aborted = files.begin("roster", None).await.unwrap();
    aborted.write(&big[..PART_SIZE + 1]).await.unwrap();
    aborted.abort().await.unwrap();
    s.clock.advance(Duration::hours(25));
    assert_eq!(
        files.sweep_orphans().await.unwrap(),
        SweepReport {
            orphans: 2,
            removed: 2,
            failed: 0
        }
    );
    let listing = http
        .get(format!("{s3}/{bucket}?list-type=2"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listing.contains("<Key>"), "{listing}");
}
