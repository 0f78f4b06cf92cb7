//! Uploaded files through `object_store`: a local directory by default, an S3-compatible
//! bucket when configured (ADR 011). Small files (station photos) go whole
//! ([`FileStore::put`], [`FileStore::get`]); large ones (rosters, sealed documents, ADR 016)
//! stream: [`FileStore::writer`] uploads in fixed parts as the bytes come, with a bounded
//! amount in memory, and [`FileStore::get_stream`] reads them back piece by piece.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{MultipartUpload, ObjectStore, PutPayload, PutPayloadMut};
use secrecy::{ExposeSecret, SecretString};
use tokio::task::JoinSet;

/// The size of every part of a streamed upload but the last: S3 refuses parts under 5 MiB
/// (but the last), and some S3-compatible stores want equal parts.
pub const PART_SIZE: usize = 5 * 1024 * 1024;
/// Parts one writer uploads at once; a write waits while this many are in flight.
pub const PARTS_IN_FLIGHT: usize = 2;
/// The most a [`FileWriter`] holds in memory: the part being filled and the parts in flight.
pub const MAX_BUFFERED: usize = PART_SIZE * (PARTS_IN_FLIGHT + 1);

/// A file read piece by piece.
pub type ByteStream = BoxStream<'static, anyhow::Result<Bytes>>;

/// Where uploaded files go: a local directory (default: `<data dir>/files`) or an
/// S3-compatible bucket.
#[derive(Debug, Clone)]
pub enum FileStoreSettings {
    Local(PathBuf),
    S3 {
        bucket: String,
        endpoint: Option<String>,
        region: String,
        access_key_id: String,
        secret_access_key: SecretString,
        allow_http: bool,
    },
}

#[derive(Clone)]
pub struct FileStore {
    store: Arc<dyn ObjectStore>,
}

impl FileStore {
    pub fn from_settings(settings: &FileStoreSettings) -> anyhow::Result<Self> {
        let store: Arc<dyn ObjectStore> = match settings {
            FileStoreSettings::Local(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating the file directory {}", dir.display()))?;
                Arc::new(
                    LocalFileSystem::new_with_prefix(dir)
                        .context("opening the local file store")?,
                )
            }
            FileStoreSettings::S3 {
                bucket,
                endpoint,
                region,
                access_key_id,
                secret_access_key,
                allow_http,
            } => {
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(region)
                    .with_access_key_id(access_key_id)
                    .with_secret_access_key(secret_access_key.expose_secret())
                    .with_allow_http(*allow_http);
                if let Some(endpoint) = endpoint {
                    // MinIO, Ceph, COS and OSS gateways address buckets by path.
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_virtual_hosted_style_request(false);
                }
                Arc::new(builder.build().context("configuring the S3 file store")?)
            }
        };
        Ok(Self { store })
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.store
            .put(&Path::from(key), PutPayload::from(bytes))
            .await
            .with_context(|| format!("storing {key}"))?;
        Ok(())
    }

    /// Removes a file (gone already is fine).
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing {key}")),
        }
    }

    /// A streamed upload to `key`: bytes are buffered into parts of [`PART_SIZE`] and
    /// uploaded as they fill (a multipart upload), so memory stays under [`MAX_BUFFERED`]
    /// whatever the size. Nothing is visible at `key` before [`FileWriter::finish`]; a writer
    /// dropped unfinished leaves nothing there (S3 may keep the parts until its lifecycle
    /// rule for incomplete multipart uploads removes them: call [`FileWriter::abort`]).
    pub async fn writer(&self, key: &str) -> anyhow::Result<FileWriter> {
        let upload = self
            .store
            .put_multipart(&Path::from(key))
            .await
            .with_context(|| format!("starting an upload of {key}"))?;
        Ok(FileWriter {
            key: key.to_owned(),
            upload,
            part: PutPayloadMut::new(),
            in_flight: JoinSet::new(),
            in_flight_bytes: 0,
            written: 0,
            peak_buffered: 0,
        })
    }

    /// Stores what `bytes` yields at `key` through a [`FileWriter`]; returns the size. An
    /// error from the stream aborts the upload and is returned.
    pub async fn put_stream<S, E>(&self, key: &str, bytes: S) -> anyhow::Result<u64>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Into<anyhow::Error>,
    {
        let mut writer = self.writer(key).await?;
        let mut bytes = std::pin::pin!(bytes);
        while let Some(next) = bytes.next().await {
            let written = match next {
                Ok(piece) => writer.write(piece).await,
                Err(e) => Err(e.into()),
            };
            if let Err(e) = written {
                if let Err(cleanup) = writer.abort().await {
                    tracing::warn!(error = %format!("{cleanup:#}"), "could not abort an upload");
                }
                return Err(e);
            }
        }
        writer.finish().await
    }

    /// The file's bytes as they are read (pieces of a few KiB from a local directory, as
    /// they arrive from S3); None when it is not there.
    pub async fn get_stream(&self, key: &str) -> anyhow::Result<Option<ByteStream>> {
        match self.store.get(&Path::from(key)).await {
            Ok(found) => {
                let key = key.to_owned();
                Ok(Some(match found.payload {
                    // A local file: read in large pieces. (object_store's own stream reads 8 KiB
                    // per blocking task: a 200 MB statement was 25,000 thread hand-offs.)
                    object_store::GetResultPayload::File(file, _) => {
                        local_chunks(file, found.range, key)
                    }
                    object_store::GetResultPayload::Stream(stream) => stream
                        .map_err(move |e| anyhow::Error::new(e).context(format!("reading {key}")))
                        .boxed(),
                }))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {key}")),
        }
    }

    /// The file's size in bytes; None when it is not there.
    pub async fn size(&self, key: &str) -> anyhow::Result<Option<u64>> {
        match self.store.head(&Path::from(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("looking up {key}")),
        }
    }

    /// The file's bytes; None when it is not there.
    pub async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        match self.store.get(&Path::from(key)).await {
            Ok(found) => Ok(Some(
                found
                    .bytes()
                    .await
                    .with_context(|| format!("reading {key}"))?
                    .to_vec(),
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {key}")),
        }
    }
}

/// A streamed upload in progress (see [`FileStore::writer`]): [`write`](Self::write) the
/// bytes in any pieces, then [`finish`](Self::finish) (the file appears whole) or
/// [`abort`](Self::abort).
pub struct FileWriter {
    key: String,
    upload: Box<dyn MultipartUpload>,
    /// The part being filled (at most [`PART_SIZE`]).
    part: PutPayloadMut,
    /// Parts being uploaded; each answers with its size.
    in_flight: JoinSet<object_store::Result<usize>>,
    in_flight_bytes: usize,
    written: u64,
    peak_buffered: usize,
}

impl std::fmt::Debug for FileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWriter")
            .field("key", &self.key)
            .field("written", &self.written)
            .field("buffered", &self.buffered())
            .finish_non_exhaustive()
    }
}

impl FileWriter {
    /// Appends `bytes`; uploads each part as it fills, waiting while [`PARTS_IN_FLIGHT`]
    /// parts are still on their way (back-pressure on the producer).
    pub async fn write(&mut self, mut bytes: Bytes) -> anyhow::Result<()> {
        while !bytes.is_empty() {
            let room = PART_SIZE - self.part.content_length();
            let piece = bytes.split_to(room.min(bytes.len()));
            self.written += piece.len() as u64;
            self.part.push(piece);
            self.peak_buffered = self.peak_buffered.max(self.buffered());
            if self.part.content_length() >= PART_SIZE {
                self.send_part().await?;
            }
        }
        Ok(())
    }

    /// Uploads the rest and completes the upload: the file appears at its key, whole.
    /// Returns its size. On failure the upload is aborted.
    pub async fn finish(mut self) -> anyhow::Result<u64> {
        let completed = self.complete().await;
        match completed {
            Ok(()) => Ok(self.written),
            Err(e) => {
                if let Err(cleanup) = self.abort().await {
                    tracing::warn!(error = %format!("{cleanup:#}"), "could not abort an upload");
                }
                Err(e)
            }
        }
    }

    /// Gives up: parts in flight are cancelled and the uploaded ones removed.
    pub async fn abort(mut self) -> anyhow::Result<()> {
        self.in_flight.shutdown().await;
        self.upload
            .abort()
            .await
            .with_context(|| format!("aborting the upload of {}", self.key))
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Bytes held now: the part being filled and the parts in flight.
    pub fn buffered(&self) -> usize {
        self.part.content_length() + self.in_flight_bytes
    }

    /// The most [`buffered`](Self::buffered) has been (never above [`MAX_BUFFERED`]).
    pub fn peak_buffered(&self) -> usize {
        self.peak_buffered
    }

    async fn complete(&mut self) -> anyhow::Result<()> {
        // The last part (S3 uploads an empty one itself when there was none at all).
        if !self.part.is_empty() {
            self.send_part().await?;
        }
        while !self.in_flight.is_empty() {
            self.join_part().await?;
        }
        self.upload
            .complete()
            .await
            .with_context(|| format!("completing the upload of {}", self.key))?;
        Ok(())
    }

    async fn send_part(&mut self) -> anyhow::Result<()> {
        while self.in_flight.len() >= PARTS_IN_FLIGHT {
            self.join_part().await?;
        }
        let part = std::mem::take(&mut self.part).freeze();
        let size = part.content_length();
        let upload = self.upload.put_part(part);
        self.in_flight_bytes += size;
        self.in_flight
            .spawn(async move { upload.await.map(|()| size) });
        Ok(())
    }

    async fn join_part(&mut self) -> anyhow::Result<()> {
        let Some(done) = self.in_flight.join_next().await else {
            return Ok(());
        };
        let size = done
            .context("a part upload stopped")?
            .with_context(|| format!("uploading a part of {}", self.key))?;
        self.in_flight_bytes = self.in_flight_bytes.saturating_sub(size);
        Ok(())
    }
}

/// How much of a local file one blocking read takes.
const LOCAL_CHUNK: usize = 1 << 20;

/// The bytes `range` of a local file as a stream of pieces of [`LOCAL_CHUNK`] bytes, each
/// read on tokio's blocking pool.
fn local_chunks(file: std::fs::File, range: std::ops::Range<u64>, key: String) -> ByteStream {
    futures_util::stream::try_unfold(
        (Some(file), range.start, false),
        move |(file, at, seeked)| {
            let key = key.clone();
            async move {
                let Some(mut file) = file else {
                    return Ok(None);
                };
                let left = range.end.saturating_sub(at);
                if left == 0 {
                    return Ok(None);
                }
                let want = usize::try_from(left)
                    .unwrap_or(LOCAL_CHUNK)
                    .min(LOCAL_CHUNK);
                let start = range.start;
                let (file, piece) = tokio::task::spawn_blocking(
                    move || -> std::io::Result<(std::fs::File, Vec<u8>)> {
                        use std::io::{Read, Seek, SeekFrom};
                        if !seeked {
                            file.seek(SeekFrom::Start(start))?;
                        }
                        let mut piece = vec![0u8; want];
                        let mut filled = 0;
                        while filled < want {
                            match file.read(&mut piece[filled..])? {
                                0 => break,
                                n => filled += n,
                            }
                        }
                        piece.truncate(filled);
                        Ok((file, piece))
                    },
                )
                .await
                .with_context(|| format!("reading {key}"))?
                .with_context(|| format!("reading {key}"))?;
                if piece.is_empty() {
                    anyhow::bail!("reading {key}: the file ended before its size");
                }
                let next = at + piece.len() as u64;
                Ok(Some((Bytes::from(piece), (Some(file), next, true))))
            }
        },
    )
    .boxed()
}
