//! Errors as HTTP answers: `application/problem+json` (RFC 9457) with the stable machine
//! `code` and zh-CN `detail` of a [`ServiceError`], and the status its kind maps to. 5xx
//! responses never carry internals: the cause chain goes to the log, with the request id.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use gongyou_db::kv::KvError;
use gongyou_db::DbError;
use gongyou_services::{Kind, ServiceError};
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

/// A use-case's error on its way to becoming a problem response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    error: ServiceError,
}

/// The status of each kind of failure.
pub fn status_of(kind: Kind) -> StatusCode {
    match kind {
        Kind::Invalid => StatusCode::BAD_REQUEST,
        Kind::Unauthenticated => StatusCode::UNAUTHORIZED,
        Kind::Forbidden => StatusCode::FORBIDDEN,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::Stale => StatusCode::PRECONDITION_FAILED,
        Kind::VersionRequired => StatusCode::PRECONDITION_REQUIRED,
        Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Kind::Rule => StatusCode::UNPROCESSABLE_ENTITY,
        Kind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.error.code())
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        Self {
            status: status_of(error.kind()),
            error,
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        ServiceError::from(e).into()
    }
}

impl From<KvError> for ApiError {
    fn from(e: KvError) -> Self {
        ServiceError::from(e).into()
    }
}

impl ApiError {
    /// A problem with an HTTP-level status no use-case answers (unsupported media type, a
    /// method the path does not serve, …).
    pub fn http(
        status: StatusCode,
        code: &'static str,
        detail: impl Into<std::borrow::Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            error: ServiceError::invalid(code, detail),
        }
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
        Self::http(status, code, detail)
    }

    /// Attaches field-level details (400/422).
    pub fn with_errors(self, errors: serde_json::Value) -> Self {
        Self {
            error: self.error.with_errors(errors),
            ..self
        }
    }

    pub fn code(&self) -> &str {
        self.error.code()
    }

    pub fn problem(&self) -> Problem {
        Problem {
            type_: format!("urn:gongyou:problem:{}", self.error.code()),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            code: self.error.code().to_owned(),
            detail: self.error.detail().to_owned(),
            errors: self.error.errors().cloned(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.status.is_server_error() {
            match self.error.cause() {
                Some(source) => {
                    tracing::error!(code = %self.error.code(), status = self.status.as_u16(), error = %format!("{source:#}"), "request failed")
                }
                None => {
                    tracing::error!(code = %self.error.code(), status = self.status.as_u16(), "request failed")
                }
            }
        }
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if let Some(after) = self.error.retry_after_duration() {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            response.insert_header((header::RETRY_AFTER, secs.max(1).to_string()));
        }
        let body = serde_json::to_string(&self.problem()).unwrap_or_else(|_| {
            r#"{"type":"urn:gongyou:problem:internal","title":"Internal Server Error","status":500,"code":"internal","detail":"服务器内部错误"}"#.to_owned()
        });
        response.body(body)
    }
}

/// Handler results.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;
    use std::time::Duration;

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
        let e: ApiError = ServiceError::rule("member.id_number_check_char", "身份证号码校验位错误")
            .with_errors(serde_json::json!({"id_number": "check character"}))
            .into();
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
        let e: ApiError = ServiceError::internal(cause).into();
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
        let limited: ApiError =
            ServiceError::rate_limited("auth.sms_rate_limited", Duration::from_secs(42)).into();
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

    #[test]
    fn every_kind_has_its_status() {
        for (kind, status) in [
            (Kind::Stale, 412),
            (Kind::VersionRequired, 428),
            (Kind::TooLarge, 413),
            (Kind::UnsupportedMediaType, 415),
            (Kind::Rule, 422),
        ] {
            assert_eq!(status_of(kind).as_u16(), status);
        }
    }
}
