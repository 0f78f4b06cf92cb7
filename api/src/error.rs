//! The API's one error type, rendered as `application/problem+json` (RFC 9457) with a stable
//! machine `code` and a zh-CN `detail` a phone app can show. 5xx responses never carry
//! internals: the cause chain goes to the log, with the request id.

use std::borrow::Cow;
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use gongyou_db::kv::KvError;
use gongyou_db::DbError;
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The body of every error response.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// `urn:gongyou:problem:<code>`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The HTTP status text.
    pub title: String,
    pub status: u16,
    /// Stable machine-readable code, e.g. `request.malformed_json`.
    pub code: String,
    /// What happened, in zh-CN, fit to show to the user.
    pub detail: String,
    /// More about specific fields, when there is something to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<serde_json::Value>,
}

/// An error on its way to becoming a problem response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    detail: Cow<'static, str>,
    errors: Option<serde_json::Value>,
    retry_after: Option<Duration>,
    /// For 5xx: what really happened (logged, never sent).
    source: Option<anyhow::Error>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.code)
    }
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            detail: detail.into(),
            errors: None,
            retry_after: None,
            source: None,
        }
    }

    /// 400: the request itself is malformed.
    pub fn bad_request(
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 401: no credentials, or credentials that do not work.
    pub fn unauthenticated(
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    /// 403: known caller, not allowed.
    pub fn forbidden(
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }

    /// 404: no such object, or not yours to know of.
    pub fn not_found(
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, detail)
    }

    /// 409: conflicts with the current state.
    pub fn conflict(
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// 422: well-formed, but against a rule.
    pub fn unprocessable(
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    /// 429 with `Retry-After`.
    pub fn too_many_requests(code: impl Into<Cow<'static, str>>, retry_after: Duration) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            code,
            "请求过于频繁，请稍后再试",
        )
        .retry_after(retry_after)
    }

    /// Adds `Retry-After` (whole seconds, rounded up, at least 1).
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// Replaces the detail.
    pub fn with_detail(mut self, detail: impl Into<Cow<'static, str>>) -> Self {
        self.detail = detail.into();
        self
    }

    /// 503: a dependency is down; the client may retry.
    pub fn unavailable(
        code: impl Into<Cow<'static, str>>,
        source: impl Into<anyhow::Error>,
    ) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code,
            "服务暂时不可用，请稍后重试",
        );
        e.source = Some(source.into());
        e.retry_after = Some(Duration::from_secs(5));
        e
    }

    /// 500: a bug or an unexpected failure. The cause is logged, not sent.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "服务器内部错误，请稍后重试",
        );
        e.source = Some(source.into());
        e
    }

    /// The generic problem for a status that reached the client without one of ours
    /// (unknown route, wrong method, a framework-level rejection).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, detail) = match status.as_u16() {
            400 => ("request.malformed", "请求格式错误"),
            401 => ("auth.unauthenticated", "请先登录"),
            403 => ("auth.forbidden", "没有权限执行此操作"),
            404 => ("not_found", "请求的资源不存在"),
            405 => ("request.method_not_allowed", "不支持该请求方法"),
            406 => ("request.not_acceptable", "无法提供所要求的响应格式"),
            408 => ("request.timeout", "请求超时"),
            413 => ("request.body_too_large", "请求内容过大"),
            414 => ("request.uri_too_long", "请求地址过长"),
            415 => ("request.unsupported_media_type", "不支持的内容类型"),
            431 => ("request.headers_too_large", "请求头过大"),
            s if s >= 500 => ("internal", "服务器内部错误，请稍后重试"),
            _ => ("request.rejected", "请求被拒绝"),
        };
        Self::new(status, code, detail)
    }

    /// Attaches field-level details (400/422).
    pub fn with_errors(mut self, errors: serde_json::Value) -> Self {
        self.errors = Some(errors);
        self
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    /// Whether this is the caller's fault (4xx), not ours.
    pub fn is_client_error(&self) -> bool {
        self.status.is_client_error()
    }

    pub fn problem(&self) -> Problem {
        Problem {
            type_: format!("urn:gongyou:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            code: self.code.to_string(),
            detail: self.detail.to_string(),
            errors: self.errors.clone(),
        }
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.status.is_server_error() {
            match &self.source {
                Some(source) => {
                    tracing::error!(code = %self.code, status = self.status.as_u16(), error = %format!("{source:#}"), "request failed")
                }
                None => {
                    tracing::error!(code = %self.code, status = self.status.as_u16(), "request failed")
                }
            }
        }
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if let Some(after) = self.retry_after {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            response.insert_header((header::RETRY_AFTER, secs.max(1).to_string()));
        }
        let body = serde_json::to_string(&self.problem()).unwrap_or_else(|_| {
            r#"{"type":"urn:gongyou:problem:internal","title":"Internal Server Error","status":500,"code":"internal","detail":"服务器内部错误"}"#.to_owned()
        });
        response.body(body)
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        if e.is_unique_violation() {
            // Two requests raced to create the same thing; the loser is told so.
            return ApiError::conflict(
                "conflict.duplicate",
                "该记录已存在或刚被他人修改，请刷新后重试",
            );
        }
        match e {
            DbError::Pool(_) | DbError::Connection(_) => {
                ApiError::unavailable("service.database_unavailable", e)
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<KvError> for ApiError {
    fn from(e: KvError) -> Self {
        ApiError::unavailable("service.cache_unavailable", e)
    }
}

/// Handler results.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn body_of(e: &ApiError) -> serde_json::Value {
        let response = e.error_response();
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            PROBLEM_JSON
        );
        let bytes = to_bytes(response.into_body()).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[actix_web::test]
    async fn client_errors_carry_code_status_and_chinese_detail() {
        let e = ApiError::unprocessable("member.id_number_check_char", "身份证号码校验位错误")
            .with_errors(serde_json::json!({"id_number": "check character"}));
        assert_eq!(e.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = body_of(&e).await;
        assert_eq!(body["status"], 422);
        assert_eq!(body["code"], "member.id_number_check_char");
        assert_eq!(
            body["type"],
            "urn:gongyou:problem:member.id_number_check_char"
        );
        assert_eq!(body["title"], "Unprocessable Entity");
        assert_eq!(body["detail"], "身份证号码校验位错误");
        assert_eq!(body["errors"]["id_number"], "check character");
    }

    #[actix_web::test]
    async fn server_errors_hide_their_cause() {
        let cause = anyhow::anyhow!("relation \"secret_table\" does not exist")
            .context("loading claims for user 42");
        let e = ApiError::internal(cause);
        let response = e.error_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let text =
            String::from_utf8(to_bytes(response.into_body()).await.unwrap().to_vec()).unwrap();
        assert!(!text.contains("secret_table"), "{text}");
        assert!(!text.contains("user 42"), "{text}");
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["code"], "internal");
    }

    #[actix_web::test]
    async fn rate_limits_and_outages_say_when_to_retry() {
        let limited = ApiError::too_many_requests("auth.sms_rate_limited", Duration::from_secs(42));
        let response = limited.error_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "42");
        let down: ApiError = DbError::Migration("x".into()).into();
        assert_eq!(down.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        let pool_down: ApiError = DbError::Url("x".into()).into();
        assert_eq!(pool_down.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        let cache: ApiError = KvError::Timeout.into();
        assert_eq!(cache.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(cache
            .error_response()
            .headers()
            .contains_key(header::RETRY_AFTER));
    }

    #[test]
    fn every_generic_status_has_a_code() {
        for s in [400u16, 401, 403, 404, 405, 413, 415, 500, 503] {
            let e = ApiError::from_status(StatusCode::from_u16(s).unwrap());
            assert_ne!(e.code(), "request.rejected", "{s}");
            assert_eq!(e.problem().status, s);
        }
    }
}
