//! Uploaded files (station photos) through `object_store`: a local directory by default, an
//! S3-compatible bucket when configured (ADR 011).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use secrecy::{ExposeSecret, SecretString};

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
