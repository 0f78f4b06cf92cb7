//! `Idempotency-Key` for POSTs that create things (claims, enrollments, applications,
//! batches): the first response is stored per (caller, key) in the database and replayed on
//! repeats; the same key with a different request is a 409, and so is a repeat while the
//! first is still being handled. Keys expire after 24 h (by the injected clock).
//!
//! A handler opts in by wrapping its work:
//! `idempotent(&state, &req, caller, &body, || async { … }).await`.
//! 5xx outcomes are not stored, so the client can retry with the same key.

use std::future::Future;

use actix_web::body::to_bytes;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use gongyou_db::idempotency::{self as store, Begin, Lifetimes, StoredResponse};
use serde::Serialize;

use gongyou_services::{Actor, ServiceError, Subject};

use crate::error::ApiResult;
use crate::state::AppState;

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The header as an operation documents it: `params(IdempotencyKeyHeader)`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // documentation only: `idempotent` reads the header itself
pub struct IdempotencyKeyHeader {
    /// Repeat-safe submission: 1–255 visible ASCII characters (a UUID, typically). The first
    /// response is kept for 24 h and replayed for a repeat with the same key and body.
    #[param(
        rename = "Idempotency-Key",
        nullable = false,
        pattern = r"^[!-~]{1,255}$"
    )]
    idempotency_key: Option<String>,
}
/// Set on a replayed response.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Headers kept with a stored response.
const KEPT_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

/// A well-formed key: 1–255 visible ASCII characters (clients typically send a UUID).
fn parse_key(req: &HttpRequest) -> ApiResult<Option<String>> {
    let Some(value) = req.headers().get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ServiceError::invalid(
                "idempotency.invalid_key",
                "Idempotency-Key 须为 1 至 255 个可见 ASCII 字符",
            )
        })?;
    Ok(Some(key.to_owned()))
}

/// The fingerprint of a request: method, path and the parsed body re-serialized, so the
/// same content in a different key order or spacing counts as the same request. Keyed with
/// the server secret: bodies may carry ID numbers, whose plain hash could be brute-forced.
fn fingerprint(state: &AppState, req: &HttpRequest, body: &impl Serialize) -> ApiResult<String> {
    let canonical = serde_json::to_string(body).map_err(ServiceError::internal)?;
    Ok(hex::encode(state.tokens.mac(&[
        "idempotency",
        req.method().as_str(),
        req.path(),
        &canonical,
    ])))
}

/// Runs `handler` at most once per (caller, key); see the module docs.
pub async fn idempotent<F, Fut>(
    state: &AppState,
    req: &HttpRequest,
    actor: &Actor,
    body: &impl Serialize,
    handler: F,
) -> ApiResult<HttpResponse>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ApiResult<HttpResponse>>,
{
    run(
        state,
        req,
        actor,
        body,
        handler,
        None::<fn(String) -> std::future::Ready<ApiResult<HttpResponse>>>,
    )
    .await
}

/// Like [`idempotent`], but a success is stored as its status and `Location` only — the
/// created object's id, never its content (a claim's diagnosis, a bank account) — and a
/// replay renders the object afresh with `render(id)` (the last segment of `Location`),
/// as the caller may see it now.
pub async fn idempotent_by_ref<F, Fut, R, RFut>(
    state: &AppState,
    req: &HttpRequest,
    actor: &Actor,
    body: &impl Serialize,
    handler: F,
    render: R,
) -> ApiResult<HttpResponse>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ApiResult<HttpResponse>>,
    R: FnOnce(String) -> RFut,
    RFut: Future<Output = ApiResult<HttpResponse>>,
{
    run(state, req, actor, body, handler, Some(render)).await
}

async fn run<F, Fut, R, RFut>(
    state: &AppState,
    req: &HttpRequest,
    actor: &Actor,
    body: &impl Serialize,
    handler: F,
    render: Option<R>,
) -> ApiResult<HttpResponse>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ApiResult<HttpResponse>>,
    R: FnOnce(String) -> RFut,
    RFut: Future<Output = ApiResult<HttpResponse>>,
{
    let by_ref = render.is_some();
    let Some(key) = parse_key(req)? else {
        return handler().await;
    };
    // A worker's keys under their account id (erasure deletes them with the account's
    // data); a staff member's under a prefix, so the two id spaces never meet.
    let caller = match actor.subject() {
        Subject::User { id, .. } => id.clone(),
        Subject::Staff { id, .. } => format!("staff:{id}"),
    };
    let caller = caller.as_str();
    let hash = fingerprint(state, req, body)?;
    let now = state.clock.now();
    let (caller_owned, key_owned) = (caller.to_owned(), key.clone());
    let begin = state
        .db
        .run(move |conn| {
            store::begin(
                conn,
                &caller_owned,
                &key_owned,
                &hash,
                now,
                Lifetimes::default(),
            )
        })
        .await?;
    match begin {
        Begin::Replay(mut stored) => {
            stored.body = open_body(state, &stored.body)?;
            let stored_ref = stored.body.is_empty() && (200..300).contains(&stored.status);
            if let (true, Some(render)) = (stored_ref, render) {
                let id = stored
                    .headers
                    .iter()
                    .find(|(name, _)| name.as_str() == header::LOCATION.as_str())
                    .and_then(|(_, value)| value.rsplit('/').next())
                    .unwrap_or_default()
                    .to_owned();
                let mut response = render(id).await?;
                *response.status_mut() =
                    StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
                response
                    .headers_mut()
                    .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
                return Ok(response);
            }
            return Ok(replay(stored));
        }
        Begin::Mismatch => {
            return Err(ServiceError::conflict(
                "idempotency.key_reused",
                "该 Idempotency-Key 已用于另一个请求，请换一个新的键",
            )
            .into())
        }
        Begin::InFlight => {
            return Err(ServiceError::conflict(
                "idempotency.in_flight",
                "相同的请求正在处理中，请稍后重试",
            )
            .into())
        }
        Begin::Proceed => {}
    }

    let response = match handler().await {
        Ok(response) => response,
        Err(e) => e.error_response(),
    };
    let caller = caller.to_owned();
    if response.status().is_server_error() {
        let release = state
            .db
            .run(move |conn| store::release(conn, &caller, &key))
            .await;
        if let Err(e) = release {
            tracing::warn!(error = %e, "releasing an idempotency key failed; it frees itself when its lock lapses");
        }
        return Ok(response);
    }

    let status = response.status();
    let headers: Vec<(String, String)> = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = response.headers().get(name)?.to_str().ok()?;
            Some((name.as_str().to_owned(), value.to_owned()))
        })
        .collect();
    let bytes = to_bytes(response.into_body())
        .await
        .map_err(|e| ServiceError::internal(anyhow::anyhow!("reading a response body: {e}")))?;
    let body = String::from_utf8(bytes.to_vec()).map_err(|e| {
        ServiceError::internal(anyhow::anyhow!("non-UTF-8 idempotent response: {e}"))
    })?;
    let stored = StoredResponse {
        status: status.as_u16(),
        headers,
        body,
    };
    let mut to_store = stored.clone();
    let has_location = to_store
        .headers
        .iter()
        .any(|(name, _)| name.as_str() == header::LOCATION.as_str());
    if by_ref && status.is_success() && has_location {
        to_store.body = String::new();
    }
    to_store.body = seal_body(state, &to_store.body)?;
    state
        .db
        .run(move |conn| store::complete(conn, &caller, &key, &to_store))
        .await?;
    Ok(rebuild(stored, false))
}

/// A stored body is encrypted at rest: a response may repeat what was submitted (an
/// application's name, its masked ID number).
const SEALED: &str = "enc1:";
const BODY_AAD: &str = "idempotent-response";

fn seal_body(state: &AppState, body: &str) -> ApiResult<String> {
    let sealed = state
        .crypto
        .encrypt(body, BODY_AAD)
        .map_err(|e| ServiceError::internal(anyhow::anyhow!("sealing a stored response: {e}")))?;
    Ok(format!("{SEALED}{}:{}", sealed.key_id, sealed.ciphertext))
}

fn open_body(state: &AppState, stored: &str) -> ApiResult<String> {
    // Responses stored before encryption was introduced (kept 24 h at most) are plain.
    let Some(sealed) = stored.strip_prefix(SEALED) else {
        return Ok(stored.to_owned());
    };
    let (key_id, ciphertext) = sealed.split_once(':').unwrap_or(("", sealed));
    Ok(state
        .crypto
        .decrypt(key_id, ciphertext, BODY_AAD)
        .map_err(|e| ServiceError::internal(anyhow::anyhow!("opening a stored response: {e}")))?)
}

fn replay(stored: StoredResponse) -> HttpResponse {
    rebuild(stored, true)
}

fn rebuild(stored: StoredResponse, replayed: bool) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    for (name, value) in &stored.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.insert_header((name, value));
        }
    }
    if replayed {
        response.insert_header((IDEMPOTENT_REPLAYED, HeaderValue::from_static("true")));
    }
    response.body(stored.body)
}
