//! Station photos: JPEG (stripped of EXIF and XMP: where and when it was taken), PNG or WebP,
//! at most 20 per station, kept in the file store and served publicly like the station.

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
    let refused = || bad("station.photo_type", "照片须为 JPEG、PNG 或 WebP");
    let content_type = image_type(&image).ok_or_else(refused)?;
    // A phone's JPEG carries where and when it was taken: not for a public photo.
    let image = if content_type == "image/jpeg" {
        strip_exif(&image).ok_or_else(refused)?
    } else {
        image
    };
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

/// A JPEG without its APP1 segments (EXIF and XMP: GPS position, device, time). None when
/// the bytes do not have a JPEG's structure.
fn strip_exif(jpeg: &[u8]) -> Option<Vec<u8>> {
    if jpeg.get(0..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut out = Vec::with_capacity(jpeg.len());
    out.extend_from_slice(&jpeg[0..2]);
    let mut i = 2;
    loop {
        if *jpeg.get(i)? != 0xFF {
            return None;
        }
        let marker = *jpeg.get(i + 1)?;
        match marker {
            // Fill byte before a marker.
            0xFF => i += 1,
            // Start of scan (the image data follows, up to the end) or end of image.
            0xDA | 0xD9 => {
                out.extend_from_slice(jpeg.get(i..)?);
                return Some(out);
            }
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => {
                out.extend_from_slice(jpeg.get(i..i + 2)?);
                i += 2;
            }
            _ => {
                let len = usize::from(*jpeg.get(i + 2)?) << 8 | usize::from(*jpeg.get(i + 3)?);
                if len < 2 {
                    return None;
                }
                let end = i.checked_add(2 + len)?;
                let segment = jpeg.get(i..end)?;
                if marker != 0xE1 {
                    out.extend_from_slice(segment);
                }
                i = end;
            }
        }
    }
}

fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if bytes.len() > 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exif_segments_are_dropped_and_the_rest_kept() {
        // SOI, APP1 (EXIF, 6 bytes of payload), APP0 (2 bytes), SOS with scan data, EOI.
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x08, b'E', b'x', b'i', b'f', 0, 0, 0xFF, 0xE0, 0x00,
            0x04, 1, 2, 0xFF, 0xDA, 9, 9, 0xFF, 0xD9,
        ];
        let stripped = strip_exif(&jpeg);
        assert_eq!(
            stripped.as_deref(),
            Some(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 1, 2, 0xFF, 0xDA, 9, 9, 0xFF, 0xD9][..])
        );
        assert_eq!(image_type(&jpeg), Some("image/jpeg"));
        assert_eq!(strip_exif(&[0xFF, 0xD8, 0x00]), None, "not a marker");
        assert_eq!(image_type(b"GIF89a"), None);
    }
}
