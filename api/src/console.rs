//! The staff console (issue 17, ADR 023): a single-page app built from `console/` by Vite,
//! its assets embedded in the binary (every profile, so `cargo run -- demo` and the release
//! image serve the same bytes) and served at `/console/`.
//!
//! - `/console/assets/…` are content-hashed: cached for a year, immutable.
//! - Any other path under `/console/` that names no file is a route of the app: it gets
//!   `index.html`, never cached, so a new build reaches browsers at the next load.
//! - A missing asset (`/console/assets/old.js`, or any path with a file extension) is 404,
//!   not the app, so a stale page fails loudly instead of running HTML as script.
//! - Every answer carries a strict Content-Security-Policy: scripts, styles and connections
//!   from this origin only; images, fonts and workers also from `blob:` (documents fetched
//!   with the bearer token, pdf.js). `'wasm-unsafe-eval'` lets pdf.js compile its
//!   WebAssembly image decoders (JPEG 2000, JBIG2: scanned documents); it allows no eval of
//!   JavaScript.
//!
//! The console is a client of the API like the apps, not part of the API contract: it is not
//! in openapi.yaml.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use rust_embed::RustEmbed;

use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "../console/dist"]
struct Assets;

/// Where the console is served.
pub const BASE: &str = "/console";

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; \
     script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' blob: data:; font-src 'self' blob: data:; \
     worker-src 'self' blob:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; \
     base-uri 'self'; form-action 'self'";

/// Registers `/console` and everything under it (GET and HEAD).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(BASE, web::get().to(to_slash))
        .route(BASE, web::head().to(to_slash))
        .route("/console/{tail:.*}", web::get().to(serve))
        .route("/console/{tail:.*}", web::head().to(serve));
}

/// `/console` → `/console/`, so relative asset paths resolve.
async fn to_slash() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/console/"))
        .finish()
}

/// Whether the build is present: a binary built before `console/dist` existed serves a
/// clear 404 rather than an empty page.
pub fn built() -> bool {
    Assets::get("index.html").is_some()
}

async fn serve(req: HttpRequest, tail: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let tail = tail.into_inner();
    let (name, file) = match Assets::get(&tail).filter(|_| !tail.is_empty()) {
        Some(file) => (tail.as_str(), file),
        None if looks_like_file(&tail) => {
            return Err(ApiError::from_status(StatusCode::NOT_FOUND));
        }
        None => match Assets::get("index.html") {
            Some(index) => ("index.html", index),
            None => return Err(ApiError::from_status(StatusCode::NOT_FOUND)),
        },
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let immutable = name.starts_with("assets/");
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::ETAG, etag))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    if fresh {
        return Ok(response.finish());
    }
    let mime = file.metadata.mimetype();
    let content_type = if mime.starts_with("text/") || mime == "application/javascript" {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    };
    response.insert_header((header::CONTENT_TYPE, content_type));
    // Embedded files are static: served from the binary, not copied per request.
    Ok(match file.data {
        std::borrow::Cow::Borrowed(bytes) => response.body(bytes),
        std::borrow::Cow::Owned(bytes) => response.body(bytes),
    })
}

/// A path whose last segment has an extension names a file, not a route of the app.
fn looks_like_file(tail: &str) -> bool {
    tail.starts_with("assets/")
        || tail
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_not_files_and_files_are() {
        assert!(!looks_like_file(""));
        assert!(!looks_like_file("review/claims/01JX"));
        assert!(looks_like_file("assets/index-abc.js"));
        assert!(looks_like_file("assets/"));
        assert!(looks_like_file("favicon.ico"));
        assert!(looks_like_file("review/claims/report.pdf"));
    }
}
