//! Sealed files (ADR 016): sensitive files — platform rosters, claim documents, bank
//! statements — encrypted at rest, written and read as streams so that a 100 MB roster
//! never sits in memory whole.
//!
//! Each file has a fresh random 256-bit key. Its object in the file store is a 16-byte
//! header followed by the plaintext sealed in chunks of [`CHUNK_SIZE`] with the STREAM
//! construction (AES-256-GCM, 32-bit big-endian chunk counter and a last-chunk flag in the
//! nonce, the header as associated data): a reordered, dropped, truncated, extended or
//! altered chunk fails authentication, so a reader never gets silently short or wrong
//! plaintext. The header:
//!
//! ```text
//! 0..4   b"GYSF"                  magic
//! 4      1                        format version
//! 5..9   chunk size (u32, BE)     plaintext bytes per chunk; the last may be shorter
//! 9..16  nonce prefix (7 bytes)   random per file; STREAM appends counter and flag
//! 16..   sealed chunks            each its ciphertext followed by a 16-byte tag
//! ```
//!
//! The file's key is wrapped by the data key ([`DataCrypto`], associated data
//! `file-key:<file id>`) and kept in the `stored_files` record with the data key's id, not
//! in the object: a rotation of the data key rewraps keys ([`SealedFiles::rewrap_keys`])
//! and never rewrites objects, and deleting a file drops its key first.

use std::io::{BufRead, Read};

use aes_gcm::aead::stream::{DecryptorBE32, EncryptorBE32};
use aes_gcm::aead::{KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use bytes::{Bytes, BytesMut};
use chrono::Duration;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use gongyou_db::files::{self as db, StoredFile as Record};
use gongyou_db::{write_tx, Db};
use gongyou_domain::clock::SharedClock;
use gongyou_providers::files::{ByteStream, FileStore, FileWriter};
use sha2::{Digest, Sha256};
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::crypto::DataCrypto;
use crate::error::{Kind, ServiceError, ServiceResult};

/// Plaintext bytes per sealed chunk (the last chunk may be shorter, even empty).
pub const CHUNK_SIZE: usize = 64 * 1024;
/// The object's header: magic, version, chunk size, nonce prefix.
pub const HEADER_LEN: usize = 16;
/// What AES-GCM adds to each chunk.
pub const TAG_LEN: usize = 16;
const MAGIC: &[u8; 4] = b"GYSF";
const VERSION: u8 = 1;
const NONCE_PREFIX_LEN: usize = 7;
/// The largest chunk size a reader accepts from a header (bounds its memory).
const MAX_CHUNK_SIZE: usize = 16 * 1024 * 1024;
/// An upload still unfinished, or a stored file still unattached, after this long is an
/// orphan that housekeeping deletes.
pub const ORPHAN_AFTER: Duration = Duration::days(1);
/// Records handled per sweep or rewrap step.
const BATCH: i64 = 200;
/// Orphans and unfinished deletions one sweep handles at most (the next run goes on).
const SWEEP_LIMIT: usize = 2_000;

/// The most a [`SealedWriter`] holds in memory: a chunk of plaintext and what its upload
/// holds ([`gongyou_providers::files::MAX_BUFFERED`]).
pub const MAX_WRITER_BUFFERED: usize = CHUNK_SIZE + gongyou_providers::files::MAX_BUFFERED;

/// A file written whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// Its public id (UUIDv7).
    pub id: String,
    /// Plaintext bytes.
    pub size: u64,
    /// Hex SHA-256 of the plaintext.
    pub sha256: String,
}

/// What one orphan sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Orphans found and deleted (abandoned uploads, stored files never attached).
    pub orphans: usize,
    /// Objects removed, including those of deletions left unfinished before.
    pub removed: usize,
    /// Objects that could not be removed now (tried again on the next sweep).
    pub failed: usize,
}

/// What one rewrap did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RewrapReport {
    /// Keys now wrapped under the current data key.
    pub rewrapped: usize,
    /// Keys that could not be unwrapped (their data key is no longer configured, or the
    /// wrapped key is damaged): those files cannot be read.
    pub failed: usize,
}

/// Sealed files over the file store, the database and the data key. Cheap to clone.
#[derive(Clone)]
pub struct SealedFiles {
    store: FileStore,
    crypto: DataCrypto,
    db: Db,
    clock: SharedClock,
}

impl std::fmt::Debug for SealedFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedFiles")
            .field("crypto", &self.crypto)
            .finish_non_exhaustive()
    }
}

fn store_unavailable(e: anyhow::Error) -> ServiceError {
    ServiceError::unavailable("service.file_store_unavailable", e)
}

fn not_found() -> ServiceError {
    ServiceError::not_found("file.not_found", "文件不存在")
}

/// The code of a sealed file that fails to open or authenticate (its own fault, unlike the
/// store's being unavailable).
pub const CORRUPT: &str = "file.corrupt";

/// A sealed file that fails to open or authenticate: logged with the reason, never shown.
fn corrupt(id: &str, why: &str) -> ServiceError {
    tracing::error!(file_id = id, reason = why, "a sealed file is corrupt");
    ServiceError::new(Kind::Internal, CORRUPT, "文件已损坏，无法读取")
}

fn key_aad(id: &str) -> String {
    format!("file-key:{id}")
}

/// A purpose names a kind of file: 1 to 32 of `a-z`, `0-9` and `_`, starting with a letter.
fn valid_purpose(purpose: &str) -> bool {
    (1..=32).contains(&purpose.len())
        && purpose.starts_with(|c: char| c.is_ascii_lowercase())
        && purpose
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl SealedFiles {
    pub fn new(store: FileStore, crypto: DataCrypto, db: Db, clock: SharedClock) -> Self {
        Self {
            store,
            crypto,
            db,
            clock,
        }
    }

    /// Starts a sealed file for `purpose` (e.g. `roster`, `claim_document`, `statement`),
    /// about the worker with account id `owner` when it is one worker's (erasure of that
    /// worker destroys its key). The record exists from now on, `uploading`: a writer that
    /// is dropped or dies is swept after [`ORPHAN_AFTER`].
    pub async fn begin(&self, purpose: &str, owner: Option<&str>) -> ServiceResult<SealedWriter> {
        if !valid_purpose(purpose) {
            return Err(ServiceError::internal(anyhow::anyhow!(
                "invalid sealed file purpose {purpose:?}"
            )));
        }
        let id = gongyou_domain::id::new_id();
        let key: [u8; 32] = rand::random();
        let nonce_prefix: [u8; NONCE_PREFIX_LEN] = rand::random();
        let wrapped = self
            .crypto
            .encrypt(&hex::encode(key), &key_aad(&id))
            .map_err(ServiceError::internal)?;
        let record = Record {
            object_key: format!("sealed/{purpose}/{id}"),
            id: id.clone(),
            purpose: purpose.to_owned(),
            owner: owner.map(str::to_owned),
            state: db::UPLOADING.to_owned(),
            size: None,
            sha256: None,
            wrapped_key: Some(wrapped.ciphertext),
            key_id: wrapped.key_id,
            created_at: self.clock.now().naive_utc(),
            stored_at: None,
            attached_at: None,
            deleted_at: None,
        };
        let object_key = record.object_key.clone();
        self.db
            .run(move |conn| write_tx(conn, |conn| db::insert(conn, &record)))
            .await
            .map_err(ServiceError::from)?;
        let mut out = match self.store.writer(&object_key).await {
            Ok(out) => out,
            Err(e) => {
                self.forget(&id).await;
                return Err(store_unavailable(e));
            }
        };
        let header = header(CHUNK_SIZE, &nonce_prefix);
        if let Err(e) = out.write(Bytes::copy_from_slice(&header)).await {
            let _ = out.abort().await;
            self.forget(&id).await;
            return Err(store_unavailable(e));
        }
        let cipher = Aes256Gcm::new(&key.into());
        Ok(SealedWriter {
            files: self.clone(),
            id,
            encryptor: Some(EncryptorBE32::from_aead(cipher, &nonce_prefix.into())),
            header,
            plaintext: Vec::with_capacity(CHUNK_SIZE),
            out,
            size: 0,
            sha256: Sha256::new(),
            peak_buffered: 0,
        })
    }

    /// Marks a stored file as used (a roster import that started with it), so the orphan
    /// sweep leaves it alone. Attaching it again is fine; a file that is not stored (unknown,
    /// unfinished, deleted) is not found.
    pub async fn attach(&self, id: &str) -> ServiceResult<()> {
        let (id, now) = (id.to_owned(), self.clock.now().naive_utc());
        self.db
            .run(move |conn| -> ServiceResult<()> {
                write_tx(conn, |conn| {
                    if db::attach(conn, &id, now)? {
                        return Ok(());
                    }
                    match db::get(conn, &id)? {
                        Some(r) if r.state == db::STORED => Ok(()),
                        _ => Err(not_found()),
                    }
                })
            })
            .await
    }

    /// The stored file's plaintext, as it is read and authenticated chunk by chunk (each
    /// item at most [`CHUNK_SIZE`] bytes). A damaged, truncated or extended object ends the
    /// stream with an error (`file.corrupt`), never with short plaintext. Decryption runs
    /// where the stream is polled.
    pub async fn open(&self, id: &str) -> ServiceResult<BoxStream<'static, ServiceResult<Bytes>>> {
        let id_owned = id.to_owned();
        let record = self
            .db
            .run(move |conn| db::get(conn, &id_owned))
            .await
            .map_err(ServiceError::from)?
            .filter(|r| r.state == db::STORED)
            .ok_or_else(not_found)?;
        let wrapped = record
            .wrapped_key
            .as_deref()
            .ok_or_else(|| corrupt(id, "stored without a key"))?;
        let key = self.unwrap_key(id, &record.key_id, wrapped)?;
        let expected = record
            .size
            .and_then(|s| u64::try_from(s).ok())
            .ok_or_else(|| corrupt(id, "stored without a size"))?;
        let source = self
            .store
            .get_stream(&record.object_key)
            .await
            .map_err(store_unavailable)?
            .ok_or_else(|| corrupt(id, "the object is missing"))?;
        let opening = Opening {
            id: id.to_owned(),
            source,
            source_done: false,
            buffer: BytesMut::new(),
            cipher: Some(Aes256Gcm::new(&key.into())),
            decryptor: None,
            header: [0; HEADER_LEN],
            frame: 0,
            expected,
            yielded: 0,
            finished: false,
        };
        Ok(
            futures_util::stream::unfold(opening, |mut opening| async move {
                match opening.next_chunk().await {
                    Ok(Some(chunk)) => Some((Ok(chunk), opening)),
                    Ok(None) => None,
                    Err(e) => {
                        opening.finished = true;
                        Some((Err(e), opening))
                    }
                }
            })
            .boxed(),
        )
    }

    /// The stored file's plaintext as a blocking reader (`std::io::Read` and `BufRead`),
    /// for parsing on a blocking thread: call this in async code, then move the reader
    /// into `tokio::task::spawn_blocking` and read it there. Reading must not happen on an
    /// async worker thread (it blocks on the runtime, and tokio refuses that from inside
    /// async code). Errors are `std::io::Error`s carrying the [`ServiceError`]
    /// (see [`SealedReader::service_error`]).
    pub async fn open_blocking(&self, id: &str) -> ServiceResult<SealedReader> {
        let plaintext = self.open(id).await?.map_err(std::io::Error::other).boxed();
        Ok(SealedReader {
            inner: SyncIoBridge::new(StreamReader::new(plaintext)),
        })
    }

    /// Deletes a file: its key is dropped at once (the object can no longer be read),
    /// then its object removed. Deleting a file whose deletion is under way finishes it; a
    /// deleted one is fine; an unknown one is not found. If the object cannot be removed
    /// now, the error is returned and housekeeping removes it later.
    pub async fn delete(&self, id: &str) -> ServiceResult<()> {
        let (id_owned, now) = (id.to_owned(), self.clock.now().naive_utc());
        let record = self
            .db
            .run(move |conn| -> ServiceResult<Option<Record>> {
                write_tx(conn, |conn| {
                    db::begin_delete(conn, &id_owned, now)?;
                    Ok(db::get(conn, &id_owned)?)
                })
            })
            .await?
            .ok_or_else(not_found)?;
        if record.state == db::DELETED {
            return Ok(());
        }
        self.remove_object(&record).await
    }

    /// Deletes orphans — uploads unfinished for more than [`ORPHAN_AFTER`], stored files
    /// never attached within [`ORPHAN_AFTER`] — and finishes deletions left unfinished
    /// (an object that could not be removed, a worker's files after erasure).
    pub async fn sweep_orphans(&self) -> ServiceResult<SweepReport> {
        let now = self.clock.now().naive_utc();
        let cutoff = now - ORPHAN_AFTER;
        let mut report = SweepReport::default();
        let mut seen = 0;
        while seen < SWEEP_LIMIT {
            let orphans = self
                .db
                .run(move |conn| db::orphans(conn, cutoff, cutoff, BATCH))
                .await
                .map_err(ServiceError::from)?;
            if orphans.is_empty() {
                break;
            }
            seen += orphans.len();
            for orphan in orphans {
                let id = orphan.id.clone();
                let taken = self
                    .db
                    .run(move |conn| {
                        write_tx(conn, |conn| {
                            db::begin_delete_orphan(conn, &id, cutoff, cutoff, now)
                        })
                    })
                    .await
                    .map_err(ServiceError::from)?;
                if taken {
                    report.orphans += 1;
                    tracing::info!(
                        file_id = %orphan.id,
                        purpose = %orphan.purpose,
                        state = %orphan.state,
                        "deleting an orphaned sealed file"
                    );
                }
            }
        }
        // Objects of every file whose deletion began (the orphans just taken included, and
        // those whose removal failed before).
        let limit = i64::try_from(SWEEP_LIMIT).unwrap_or(i64::MAX);
        let pending = self
            .db
            .run(move |conn| db::deleting(conn, limit))
            .await
            .map_err(ServiceError::from)?;
        for file in pending {
            match self.remove_object(&file).await {
                Ok(()) => report.removed += 1,
                Err(e) => {
                    tracing::warn!(file_id = %file.id, error = %e, "could not remove a sealed file's object");
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }

    /// Rewraps every file key wrapped under a data key other than the current one (after
    /// a rotation: the old secret configured as previous), so the old secret can then be
    /// dropped. Objects are not touched. Keys that cannot be unwrapped are counted, logged
    /// and left as they are.
    pub async fn rewrap_keys(&self) -> ServiceResult<RewrapReport> {
        let mut report = RewrapReport::default();
        let mut after = String::new();
        loop {
            let (crypto, from) = (self.crypto.clone(), after.clone());
            let (page, last, done) = self
                .db
                .run(move |conn| -> ServiceResult<(RewrapReport, Option<String>, bool)> {
                    let current = crypto.key_id().to_owned();
                    let keys = db::wrapped_under_other_keys(conn, &current, &from, BATCH)?;
                    let done = keys.len() < usize::try_from(BATCH).unwrap_or(usize::MAX);
                    let last = keys.last().map(|k| k.id.clone());
                    let mut page = RewrapReport::default();
                    write_tx(conn, |conn| -> ServiceResult<()> {
                        for k in &keys {
                            let aad = key_aad(&k.id);
                            let rewrapped = crypto
                                .decrypt(&k.key_id, &k.wrapped_key, &aad)
                                .and_then(|key| crypto.encrypt(&key, &aad));
                            match rewrapped {
                                Ok(sealed) => {
                                    if db::rewrap(
                                        conn,
                                        &k.id,
                                        &k.key_id,
                                        &sealed.ciphertext,
                                        &sealed.key_id,
                                    )? {
                                        page.rewrapped += 1;
                                    }
                                }
                                Err(e) => {
                                    tracing::warn!(file_id = %k.id, key_id = %k.key_id, error = %e, "could not rewrap a sealed file's key");
                                    page.failed += 1;
                                }
                            }
                        }
                        Ok(())
                    })?;
                    Ok((page, last, done))
                })
                .await?;
            report.rewrapped += page.rewrapped;
            report.failed += page.failed;
            match last {
                Some(last) if !done => after = last,
                _ => break,
            }
        }
        if report.rewrapped + report.failed > 0 {
            tracing::info!(
                rewrapped = report.rewrapped,
                failed = report.failed,
                "rewrapped sealed file keys"
            );
        }
        Ok(report)
    }

    fn unwrap_key(&self, id: &str, key_id: &str, wrapped: &str) -> ServiceResult<[u8; 32]> {
        let hex_key = self
            .crypto
            .decrypt(key_id, wrapped, &key_aad(id))
            .map_err(|e| corrupt(id, &format!("its key does not unwrap: {e}")))?;
        let mut key = [0u8; 32];
        hex::decode_to_slice(&hex_key, &mut key)
            .map_err(|_| corrupt(id, "its key is malformed"))?;
        Ok(key)
    }

    /// Removes the object of a file whose deletion began, and records it deleted.
    async fn remove_object(&self, file: &Record) -> ServiceResult<()> {
        self.store
            .delete(&file.object_key)
            .await
            .map_err(store_unavailable)?;
        let id = file.id.clone();
        self.db
            .run(move |conn| write_tx(conn, |conn| db::mark_deleted(conn, &id)))
            .await
            .map_err(ServiceError::from)?;
        Ok(())
    }

    /// Gives up a file whose object never got written: deleted at once (best effort; the
    /// sweep takes it otherwise).
    async fn forget(&self, id: &str) {
        let (id, now) = (id.to_owned(), self.clock.now().naive_utc());
        let forgotten = self
            .db
            .run(move |conn| {
                write_tx(conn, |conn| {
                    db::begin_delete(conn, &id, now)?;
                    db::mark_deleted(conn, &id)
                })
            })
            .await;
        if let Err(e) = forgotten {
            tracing::warn!(error = %e, "could not record an abandoned sealed file");
        }
    }
}

fn header(chunk_size: usize, nonce_prefix: &[u8; NONCE_PREFIX_LEN]) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..4].copy_from_slice(MAGIC);
    header[4] = VERSION;
    header[5..9].copy_from_slice(&u32::try_from(chunk_size).unwrap_or(u32::MAX).to_be_bytes());
    header[9..].copy_from_slice(nonce_prefix);
    header
}

/// A sealed file being written (see [`SealedFiles::begin`]): [`write`](Self::write) the
/// plaintext in pieces of any size, then [`finish`](Self::finish) or
/// [`abort`](Self::abort). After an error, abort. Encryption runs in `write` (about 50 µs
/// per 64 KiB chunk), on whatever thread polls it.
pub struct SealedWriter {
    files: SealedFiles,
    id: String,
    /// None once the last chunk is sealed.
    encryptor: Option<EncryptorBE32<Aes256Gcm>>,
    header: [u8; HEADER_LEN],
    /// Plaintext of the chunk being filled: at most [`CHUNK_SIZE`]. A full chunk is sealed
    /// once more plaintext comes (until then it may be the last).
    plaintext: Vec<u8>,
    out: FileWriter,
    size: u64,
    sha256: Sha256,
    peak_buffered: usize,
}

impl std::fmt::Debug for SealedWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedWriter")
            .field("id", &self.id)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl SealedWriter {
    /// The file's id (known from the start; readable once finished).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Appends plaintext: full chunks are sealed and handed to the upload, which waits
    /// while earlier parts are still being uploaded.
    pub async fn write(&mut self, mut bytes: &[u8]) -> ServiceResult<()> {
        self.sha256.update(bytes);
        self.size += bytes.len() as u64;
        while !bytes.is_empty() {
            if self.plaintext.len() == CHUNK_SIZE {
                self.seal_next().await?;
            }
            let take = (CHUNK_SIZE - self.plaintext.len()).min(bytes.len());
            let (now, rest) = bytes.split_at(take);
            self.plaintext.extend_from_slice(now);
            bytes = rest;
            self.note_buffered();
        }
        Ok(())
    }

    /// Seals the last chunk, completes the upload and records the file `stored`. If
    /// housekeeping took the file for abandoned meanwhile (after [`ORPHAN_AFTER`]), the
    /// object is removed again and the answer is a conflict.
    pub async fn finish(mut self) -> ServiceResult<StoredFile> {
        let encryptor = self
            .encryptor
            .take()
            .ok_or_else(|| ServiceError::internal(anyhow::anyhow!("sealed twice")))?;
        let last = encryptor
            .encrypt_last(Payload {
                msg: &self.plaintext,
                aad: &self.header,
            })
            .map_err(|_| ServiceError::internal(anyhow::anyhow!("sealing the last chunk")))?;
        self.plaintext = Vec::new();
        let files = self.files.clone();
        let id = self.id.clone();
        if let Err(e) = self.out.write(Bytes::from(last)).await {
            let _ = self.out.abort().await;
            files.forget(&id).await;
            return Err(store_unavailable(e));
        }
        if let Err(e) = self.out.finish().await {
            files.forget(&id).await;
            return Err(store_unavailable(e));
        }
        let stored = StoredFile {
            id: id.clone(),
            size: self.size,
            sha256: hex::encode(self.sha256.finalize()),
        };
        let (record_id, size, sha, now) = (
            id.clone(),
            i64::try_from(stored.size).unwrap_or(i64::MAX),
            stored.sha256.clone(),
            files.clock.now().naive_utc(),
        );
        let recorded = files
            .db
            .run(move |conn| {
                write_tx(conn, |conn| {
                    db::mark_stored(conn, &record_id, size, &sha, now)
                })
            })
            .await;
        match recorded {
            Ok(true) => Ok(stored),
            Ok(false) | Err(_) => {
                // Swept meanwhile (or unrecorded): the object must not outlive its record.
                let id_owned = id.clone();
                let record = files.db.run(move |conn| db::get(conn, &id_owned)).await;
                if let Ok(Some(record)) = record {
                    if record.state != db::STORED {
                        if let Err(e) = files.store.delete(&record.object_key).await {
                            tracing::warn!(file_id = %id, error = %format!("{e:#}"), "could not remove an unrecorded sealed file");
                        }
                    }
                }
                match recorded {
                    Err(e) => Err(e.into()),
                    Ok(_) => Err(ServiceError::conflict(
                        "file.upload_expired",
                        "上传超时已被清理，请重新上传",
                    )),
                }
            }
        }
    }

    /// Gives up: the upload is aborted and the file recorded deleted.
    pub async fn abort(self) -> ServiceResult<()> {
        let (files, id) = (self.files.clone(), self.id.clone());
        let aborted = self.out.abort().await;
        files.forget(&id).await;
        aborted.map_err(store_unavailable)
    }

    /// Plaintext bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes held now: the chunk being filled and what the upload holds.
    pub fn buffered(&self) -> usize {
        self.plaintext.len() + self.out.buffered()
    }

    /// The most [`buffered`](Self::buffered) has been; never above
    /// [`MAX_WRITER_BUFFERED`], whatever the file's size.
    pub fn peak_buffered(&self) -> usize {
        self.peak_buffered
    }

    fn note_buffered(&mut self) {
        self.peak_buffered = self.peak_buffered.max(self.buffered());
    }

    async fn seal_next(&mut self) -> ServiceResult<()> {
        let encryptor = self
            .encryptor
            .as_mut()
            .ok_or_else(|| ServiceError::internal(anyhow::anyhow!("sealed twice")))?;
        let sealed = encryptor
            .encrypt_next(Payload {
                msg: &self.plaintext,
                aad: &self.header,
            })
            .map_err(|_| ServiceError::internal(anyhow::anyhow!("sealing a chunk")))?;
        self.plaintext.clear();
        self.out
            .write(Bytes::from(sealed))
            .await
            .map_err(store_unavailable)?;
        self.note_buffered();
        Ok(())
    }
}

/// Reading a sealed object back: the header, then one sealed chunk at a time. A chunk is
/// opened as the last one only when the object ends right after it.
struct Opening {
    id: String,
    source: ByteStream,
    source_done: bool,
    buffer: BytesMut,
    /// Until the header is read.
    cipher: Option<Aes256Gcm>,
    /// None before the header and after the last chunk.
    decryptor: Option<DecryptorBE32<Aes256Gcm>>,
    header: [u8; HEADER_LEN],
    /// A sealed chunk's size: chunk size and tag.
    frame: usize,
    expected: u64,
    yielded: u64,
    finished: bool,
}

impl Opening {
    async fn next_chunk(&mut self) -> ServiceResult<Option<Bytes>> {
        if self.finished {
            return Ok(None);
        }
        if let Some(cipher) = self.cipher.take() {
            self.read_header(cipher).await?;
        }
        // One byte past a whole chunk tells that it is not the last.
        self.fill(self.frame + 1).await?;
        if self.buffer.len() > self.frame {
            let sealed = self.buffer.split_to(self.frame);
            let decryptor = self
                .decryptor
                .as_mut()
                .ok_or_else(|| corrupt(&self.id, "read past the end"))?;
            let plaintext = decryptor
                .decrypt_next(Payload {
                    msg: &sealed,
                    aad: &self.header,
                })
                .map_err(|_| corrupt(&self.id, "a chunk does not authenticate"))?;
            self.yielded += plaintext.len() as u64;
            if self.yielded > self.expected {
                return Err(corrupt(&self.id, "longer than recorded"));
            }
            return Ok(Some(Bytes::from(plaintext)));
        }
        // The object ends here: what is left is the last chunk.
        self.finished = true;
        if self.buffer.len() < TAG_LEN {
            return Err(corrupt(&self.id, "truncated"));
        }
        let decryptor = self
            .decryptor
            .take()
            .ok_or_else(|| corrupt(&self.id, "read past the end"))?;
        let sealed = std::mem::take(&mut self.buffer);
        let plaintext = decryptor
            .decrypt_last(Payload {
                msg: &sealed,
                aad: &self.header,
            })
            .map_err(|_| corrupt(&self.id, "the last chunk does not authenticate"))?;
        self.yielded += plaintext.len() as u64;
        if self.yielded != self.expected {
            return Err(corrupt(&self.id, "not the recorded size"));
        }
        Ok((!plaintext.is_empty()).then(|| Bytes::from(plaintext)))
    }

    async fn read_header(&mut self, cipher: Aes256Gcm) -> ServiceResult<()> {
        self.fill(HEADER_LEN).await?;
        if self.buffer.len() < HEADER_LEN {
            return Err(corrupt(&self.id, "no header"));
        }
        let header = self.buffer.split_to(HEADER_LEN);
        if &header[..4] != MAGIC || header[4] != VERSION {
            return Err(corrupt(&self.id, "not a sealed file of a known version"));
        }
        let mut size = [0u8; 4];
        size.copy_from_slice(&header[5..9]);
        let chunk_size = usize::try_from(u32::from_be_bytes(size)).unwrap_or(usize::MAX);
        if chunk_size == 0 || chunk_size > MAX_CHUNK_SIZE {
            return Err(corrupt(&self.id, "an impossible chunk size"));
        }
        let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
        nonce_prefix.copy_from_slice(&header[9..HEADER_LEN]);
        self.header.copy_from_slice(&header);
        self.frame = chunk_size + TAG_LEN;
        self.decryptor = Some(DecryptorBE32::from_aead(cipher, &nonce_prefix.into()));
        Ok(())
    }

    /// Reads until `want` bytes are buffered or the object ends.
    async fn fill(&mut self, want: usize) -> ServiceResult<()> {
        while self.buffer.len() < want && !self.source_done {
            match self.source.next().await {
                Some(Ok(piece)) => self.buffer.extend_from_slice(&piece),
                Some(Err(e)) => return Err(store_unavailable(e)),
                None => self.source_done = true,
            }
        }
        Ok(())
    }
}

/// A sealed file's plaintext as a blocking reader (see [`SealedFiles::open_blocking`]):
/// `Read` and `BufRead` over the async stream, polled on the reading thread itself through
/// tokio's `SyncIoBridge` — no extra task or channel, back-pressure for free, and the
/// decryption runs on that (blocking) thread with the parsing.
pub struct SealedReader {
    inner: SyncIoBridge<StreamReader<BoxStream<'static, std::io::Result<Bytes>>, Bytes>>,
}

impl std::fmt::Debug for SealedReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedReader").finish_non_exhaustive()
    }
}

impl SealedReader {
    /// The use-case's error behind a read error (`file.corrupt`, the store unavailable), or
    /// an internal one.
    pub fn service_error(error: std::io::Error) -> ServiceError {
        match error
            .into_inner()
            .map(|inner| inner.downcast::<ServiceError>())
        {
            Some(Ok(service)) => *service,
            Some(Err(other)) => ServiceError::internal(anyhow::anyhow!("{other}")),
            None => ServiceError::internal(anyhow::anyhow!("reading a sealed file failed")),
        }
    }
}

impl Read for SealedReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl BufRead for SealedReader {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt);
    }
}
