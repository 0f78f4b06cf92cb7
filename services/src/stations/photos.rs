//! Station photos: JPEG, PNG or WebP, decoded and re-encoded before they are kept (which
//! drops every kind of metadata — EXIF, XMP, IPTC, PNG text and eXIf chunks, WebP EXIF:
//! where, when and with what a photo was taken), at most 20 per station, kept in the file
//! store and served publicly like the station.

use gongyou_db::stations as db;
use gongyou_db::write_tx;

use super::views::PhotoView;
use super::{bad, managed};
use crate::actor::Actor;
use crate::error::{Kind, ServiceError, ServiceResult};
use crate::Context;

/// Photos a station may have.
const MAX_PHOTOS: i64 = 20;

fn too_many_photos() -> ServiceError {
    ServiceError::conflict("station.too_many_photos", "每个驿站最多 20 张照片")
}

/// A photo larger than `max` bytes (`GONGYOU_PHOTO_MAX_BYTES`).
pub fn photo_too_large(max: usize) -> ServiceError {
    ServiceError::new(
        Kind::TooLarge,
        "station.photo_too_large",
        format!("照片不能超过 {} MB", max / (1024 * 1024)),
    )
}

/// An upload that is not multipart/form-data with a `file` field.
pub fn photo_missing(detail: &'static str) -> ServiceError {
    bad("station.photo_missing", detail)
}

/// Whether the actor may add a photo to the station now (its managers and admins, below the
/// limit): checked before an upload is read, so a refused one is not received first.
pub async fn may_add_photo(ctx: &Context, actor: &Actor, station_id: &str) -> ServiceResult<()> {
    let (id, actor) = (station_id.to_owned(), actor.clone());
    ctx.db
        .run(move |conn| -> ServiceResult<()> {
            managed(conn, &actor, &id)?;
            if db::photo_count(conn, &id)? >= MAX_PHOTOS {
                return Err(too_many_photos());
            }
            Ok(())
        })
        .await
}

/// Adds a photo: recognised by its content, a JPEG's metadata removed, stored, then recorded
/// (under a lock, so parallel uploads do not pass the limit; a photo that cannot be
/// recorded is removed from the store again).
pub async fn add_photo(
    ctx: &Context,
    actor: &Actor,
    station_id: String,
    image: Vec<u8>,
) -> ServiceResult<PhotoView> {
    let staff_id = actor.staff_id()?;
    let (content_type, image) = tokio::task::spawn_blocking(move || reencode(&image))
        .await
        .map_err(ServiceError::internal)??;
    let photo_id = gongyou_domain::id::new_id();
    let photo = db::Photo {
        object_key: format!("stations/{station_id}/{photo_id}"),
        id: photo_id,
        station_id: station_id.clone(),
        content_type: content_type.into(),
        bytes: i64::try_from(image.len()).unwrap_or(i64::MAX),
        uploaded_by: staff_id,
        created_at: ctx.now().naive_utc(),
    };
    let files = &ctx.providers.files;
    files
        .put(&photo.object_key, image)
        .await
        .map_err(ServiceError::internal)?;
    let (stored, actor) = (photo.clone(), actor.clone());
    let recorded = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<()> {
                // Again, serialized: parallel uploads do not pass the limit.
                managed(conn, &actor, &stored.station_id)?;
                db::lock(conn, &format!("photos:{}", stored.station_id))?;
                if db::photo_count(conn, &stored.station_id)? >= MAX_PHOTOS {
                    return Err(too_many_photos());
                }
                db::add_photo(conn, &stored)?;
                Ok(())
            })
        })
        .await;
    if let Err(e) = recorded {
        if let Err(cleanup) = files.delete(&photo.object_key).await {
            tracing::warn!(error = %format!("{cleanup:#}"), "could not remove an unrecorded photo");
        }
        return Err(e);
    }
    Ok(PhotoView {
        url: format!("/api/v1/stations/{station_id}/photos/{}", photo.id),
        id: photo.id,
        content_type: photo.content_type,
        bytes: photo.bytes,
    })
}

/// A stored photo's bytes and type.
#[derive(Debug)]
pub struct PhotoContent {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A station photo (public, like the station).
pub async fn photo(
    ctx: &Context,
    station_id: String,
    photo_id: String,
) -> ServiceResult<PhotoContent> {
    let not_found = || ServiceError::not_found("station.photo_not_found", "照片不存在");
    let photo = ctx
        .db
        .run(move |conn| db::photo(conn, &photo_id))
        .await?
        .filter(|p| p.station_id == station_id)
        .ok_or_else(not_found)?;
    let bytes = ctx
        .providers
        .files
        .get(&photo.object_key)
        .await
        .map_err(ServiceError::internal)?
        .ok_or_else(not_found)?;
    Ok(PhotoContent {
        content_type: photo.content_type,
        bytes,
    })
}

/// The photo decoded and encoded again in its own format, upright, without metadata.
fn reencode(bytes: &[u8]) -> ServiceResult<(&'static str, Vec<u8>)> {
    use crate::images::{reencode, Refused};
    reencode(
        bytes,
        &[
            image::ImageFormat::Jpeg,
            image::ImageFormat::Png,
            image::ImageFormat::WebP,
        ],
    )
    .map_err(|e| match e {
        Refused::NotAnImage => ServiceError::new(
            Kind::UnsupportedMediaType,
            "station.photo_type",
            "照片须为 JPEG、PNG 或 WebP",
        ),
        Refused::TooLarge => ServiceError::rule(
            "station.photo_dimensions",
            "照片尺寸过大（长边不超过 8192 像素）",
        ),
        Refused::Failed(e) => ServiceError::internal(e),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use image::ImageEncoder;

    #[test]
    fn what_is_not_a_photo_is_refused() {
        for bytes in [
            &b"GIF89a"[..],
            b"#!/bin/sh",
            &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0],
        ] {
            let refused = reencode(bytes).unwrap_err();
            assert_eq!(refused.code(), "station.photo_type");
        }
    }

    #[test]
    fn a_decompression_bomb_is_refused_before_it_is_decoded() {
        // A PNG header claiming 100000 × 100000 pixels.
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(&[0; 1], 1, 1, image::ExtendedColorType::L8)
            .unwrap();
        // IHDR's width and height live at bytes 16..24, its CRC (over type and data) at 29..33.
        png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        let refused = reencode(&png).unwrap_err();
        assert_eq!(refused.code(), "station.photo_dimensions");
    }

    /// CRC-32 as PNG chunks use it.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
