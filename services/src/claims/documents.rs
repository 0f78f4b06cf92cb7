//! Claim documents: JPEG, PNG or PDF, recognised by their content (never by name or
//! declared type); photos re-encoded upright without metadata; HEIC refused with a hint
//! (no pure-Rust decoder exists). They are health data: sealed in the file store (per-file
//! keys, ADR 016), served only to the claimant and the staff in scope, and every staff
//! read is recorded.

use gongyou_db::claims::{self as db, Document, DocumentRead};
use gongyou_db::write_tx;
use gongyou_domain::claim::ClaimStatus;
use gongyou_domain::plan::DocumentKind;
use image::ImageFormat;

use super::{document_view, illegal, not_found, status_of, visible, DocumentView, Viewer};
use crate::actor::Actor;
use crate::error::{Kind, ServiceError, ServiceResult};
use crate::images::{reencode, Refused};
use crate::Context;

/// Documents a claim may hold.
const MAX_DOCUMENTS: i64 = 30;

/// A document's bytes and type, as served.
#[derive(Debug)]
pub struct DocumentContent {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// 413 above `GONGYOU_CLAIM_DOCUMENT_MAX_BYTES`.
pub fn document_too_large(max: usize) -> ServiceError {
    ServiceError::new(
        Kind::TooLarge,
        "claim.document_too_large",
        format!("每份材料不能超过 {} MB", max / (1024 * 1024)),
    )
}

/// 400 for an upload that is not multipart/form-data with one `file` part.
pub fn document_missing(detail: &'static str) -> ServiceError {
    ServiceError::invalid("claim.document_missing", detail)
}

fn own_editable(
    conn: &mut gongyou_db::DbConnection,
    user_id: &str,
    claim_id: &str,
) -> ServiceResult<()> {
    let claim = db::get(conn, claim_id)?
        .filter(|c| c.claimant_id == user_id)
        .ok_or_else(not_found)?;
    let status = status_of(&claim)?;
    if !matches!(status, ClaimStatus::Draft | ClaimStatus::Returned) {
        return Err(illegal(status, "添加材料"));
    }
    if db::document_count(conn, claim_id)? >= MAX_DOCUMENTS {
        return Err(ServiceError::conflict(
            "claim.too_many_documents",
            "每件理赔申请最多 30 份材料",
        ));
    }
    Ok(())
}

/// Whether the caller may add a document to the claim now (its claimant, while a draft
/// or returned): checked before the upload is read.
pub async fn may_upload(ctx: &Context, actor: &Actor, claim_id: &str) -> ServiceResult<()> {
    let user_id = actor.user_id()?.to_owned();
    let id = claim_id.to_owned();
    ctx.db
        .run(move |conn| own_editable(conn, &user_id, &id))
        .await
}

/// HEIF/HEIC (an iPhone's default): an ISO-BMFF `ftyp` box with a HEIF brand.
fn is_heic(bytes: &[u8]) -> bool {
    const BRANDS: [&[u8; 4]; 8] = [
        b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1",
    ];
    bytes.len() >= 12 && &bytes[4..8] == b"ftyp" && BRANDS.iter().any(|b| &bytes[8..12] == *b)
}

/// A PDF: the `%PDF-1.x`/`%PDF-2.x` header first and an `%%EOF` marker near the end.
fn is_pdf(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    bytes.starts_with(b"%PDF-")
        && bytes.len() > 8
        && matches!(bytes[5], b'1' | b'2')
        && tail.windows(5).any(|w| w == b"%%EOF")
}

fn refused_type() -> ServiceError {
    ServiceError::new(
        Kind::UnsupportedMediaType,
        "claim.document_type",
        "材料须为 JPEG 或 PNG 照片，或 PDF 文件",
    )
}

/// The document as kept: (content type, bytes).
fn prepare(bytes: Vec<u8>) -> ServiceResult<(&'static str, Vec<u8>)> {
    if is_heic(&bytes) {
        return Err(ServiceError::new(
            Kind::UnsupportedMediaType,
            "claim.document_heic",
            "暂不支持 HEIC 格式的照片：请在手机“设置 > 相机 > 格式”中选择“兼容性最佳”后重新拍摄，或以 JPEG 格式上传",
        ));
    }
    if is_pdf(&bytes) {
        return Ok(("application/pdf", bytes));
    }
    reencode(&bytes, &[ImageFormat::Jpeg, ImageFormat::Png]).map_err(|e| match e {
        Refused::NotAnImage => refused_type(),
        Refused::TooLarge => ServiceError::rule(
            "claim.document_dimensions",
            "照片尺寸过大（长边不超过 8192 像素）",
        ),
        Refused::Failed(e) => ServiceError::internal(e),
    })
}

/// Adds a document of `kind` to the caller's claim: recognised, re-encoded when a photo,
/// sealed in the file store, then recorded (a document that cannot be recorded is
/// deleted again).
pub async fn upload_document(
    ctx: &Context,
    actor: &Actor,
    claim_id: String,
    kind: DocumentKind,
    bytes: Vec<u8>,
) -> ServiceResult<DocumentView> {
    let user_id = actor.user_id()?.to_owned();
    let (content_type, bytes) = tokio::task::spawn_blocking(move || prepare(bytes))
        .await
        .map_err(ServiceError::internal)??;
    let files = &ctx.sealed_files;
    let mut writer = files.begin("claim_document", Some(&user_id)).await?;
    if let Err(e) = writer.write(&bytes).await {
        let _ = writer.abort().await;
        return Err(e);
    }
    let stored = writer.finish().await?;
    files.attach(&stored.id).await?;
    let doc = Document {
        id: gongyou_domain::id::new_id(),
        claim_id: claim_id.clone(),
        kind: kind.as_str().into(),
        file_id: Some(stored.id.clone()),
        content_type: content_type.into(),
        bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        uploaded_at: ctx.now().naive_utc(),
        erased_at: None,
    };
    let row = doc.clone();
    let recorded = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<()> {
                own_editable(conn, &user_id, &claim_id)?;
                db::insert_document(conn, &row)?;
                Ok(())
            })
        })
        .await;
    if let Err(e) = recorded {
        if let Err(cleanup) = files.delete(&stored.id).await {
            tracing::warn!(error = %cleanup, "an unrecorded claim document could not be deleted; housekeeping will");
        }
        return Err(e);
    }
    document_view(&doc)
}

/// Removes a document from the caller's draft or returned claim (a wrong photo, a page
/// sent twice); its sealed file is deleted (the key at once, the object after).
pub async fn delete_document(
    ctx: &Context,
    actor: &Actor,
    claim_id: String,
    document_id: String,
) -> ServiceResult<()> {
    let user_id = actor.user_id()?.to_owned();
    let removed = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<Document> {
                let claim = db::get(conn, &claim_id)?
                    .filter(|c| c.claimant_id == user_id)
                    .ok_or_else(not_found)?;
                let status = status_of(&claim)?;
                if !matches!(status, ClaimStatus::Draft | ClaimStatus::Returned) {
                    return Err(illegal(status, "删除材料"));
                }
                db::remove_document(conn, &claim_id, &document_id)?.ok_or_else(|| {
                    ServiceError::not_found("claim.document_not_found", "材料不存在")
                })
            })
        })
        .await?;
    if let Some(file_id) = removed.file_id {
        if let Err(e) = ctx.sealed_files.delete(&file_id).await {
            tracing::warn!(error = %e, "a removed claim document's object is left for housekeeping");
        }
    }
    Ok(())
}

/// A document, for its claimant or the staff in scope (each staff read recorded first).
pub async fn document(
    ctx: &Context,
    actor: &Actor,
    claim_id: String,
    document_id: String,
) -> ServiceResult<DocumentContent> {
    let now = ctx.now().naive_utc();
    let actor = actor.clone();
    let doc = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<Document> {
                let claim = db::get(conn, &claim_id)?.ok_or_else(not_found)?;
                let viewer = visible(&actor, &claim)?;
                let doc = db::documents(conn, &claim_id)?
                    .into_iter()
                    .find(|d| d.id == document_id && d.erased_at.is_none())
                    .ok_or_else(|| {
                        ServiceError::not_found("claim.document_not_found", "材料不存在")
                    })?;
                if let Viewer::Staff(staff_id) = viewer {
                    db::record_read(
                        conn,
                        &DocumentRead {
                            id: gongyou_domain::id::new_id(),
                            claim_id: claim_id.clone(),
                            document_id: doc.id.clone(),
                            staff_id,
                            read_at: now,
                        },
                    )?;
                }
                Ok(doc)
            })
        })
        .await?;
    let file_id = doc
        .file_id
        .clone()
        .ok_or_else(|| ServiceError::not_found("claim.document_not_found", "材料不存在"))?;
    // Read whole (documents are small) so that a damaged one fails before any byte is sent.
    use futures_util::TryStreamExt;
    let bytes: Vec<u8> = ctx
        .sealed_files
        .open(&file_id)
        .await?
        .try_fold(Vec::new(), |mut all, chunk| async move {
            all.extend_from_slice(&chunk);
            Ok(all)
        })
        .await?;
    Ok(DocumentContent {
        content_type: doc.content_type,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn heic_is_recognised_by_its_brand() {
        let mut heic = vec![0, 0, 0, 24];
        heic.extend_from_slice(b"ftypheic");
        heic.extend_from_slice(&[0; 16]);
        assert!(is_heic(&heic));
        assert_eq!(prepare(heic).unwrap_err().code(), "claim.document_heic");
        let mut mp4 = vec![0, 0, 0, 24];
        mp4.extend_from_slice(b"ftypisom");
        mp4.extend_from_slice(&[0; 16]);
        assert!(!is_heic(&mp4));
        assert_eq!(prepare(mp4).unwrap_err().code(), "claim.document_type");
    }

    #[test]
    fn a_pdf_needs_its_header_and_its_end() {
        assert!(is_pdf(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"));
        assert!(!is_pdf(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"));
        assert!(!is_pdf(b"<html>%PDF-1.7 %%EOF</html>"));
        assert!(!is_pdf(b"%PDF-"));
    }

    #[test]
    fn a_script_named_like_a_photo_is_refused() {
        assert_eq!(
            prepare(b"#!/bin/sh\necho hi\n".to_vec())
                .unwrap_err()
                .code(),
            "claim.document_type"
        );
    }
}
