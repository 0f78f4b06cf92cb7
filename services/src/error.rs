//! The one error of every use-case: a [`Kind`] (what went wrong, in terms a front end can
//! map: the API to an HTTP status, the job runner to retry or dead), a stable machine `code`
//! (`membership.already_member`), a zh-CN `detail` fit to show a worker, optional field
//! details, and — for our own failures — the cause, which is logged and never shown.

use std::borrow::Cow;
use std::time::Duration;

use gongyou_db::kv::KvError;
use gongyou_db::DbError;

/// What kind of failure it is. The API maps each to one status; the job runner retries the
/// [retryable](ServiceError::is_retryable) ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The input is malformed (unparseable, wrong type, out of range).
    Invalid,
    /// No credentials, or credentials that do not work.
    Unauthenticated,
    /// A known caller who may not do this.
    Forbidden,
    /// No such object, or not the caller's to know of.
    NotFound,
    /// Conflicts with the current state (decided already, a duplicate, a race lost).
    Conflict,
    /// The object changed since the caller read it (a stale version).
    Stale,
    /// A change that must name the version it was made against did not.
    VersionRequired,
    /// The content is larger than allowed.
    TooLarge,
    /// The content is of a type not accepted (an upload that is not an image).
    UnsupportedMediaType,
    /// Well-formed, but against a rule (ineligible, consent missing, a bad check digit).
    Rule,
    /// Too many requests; try again after `retry_after`.
    RateLimited,
    /// A dependency (database, Redis, a provider) is down or busy; try again.
    Unavailable,
    /// A bug or an unexpected failure.
    Internal,
}

/// A use-case's failure.
#[derive(Debug)]
pub struct ServiceError {
    kind: Kind,
    code: Cow<'static, str>,
    detail: Cow<'static, str>,
    errors: Option<serde_json::Value>,
    retry_after: Option<Duration>,
    /// What really happened, for our own failures: logged, never shown.
    source: Option<anyhow::Error>,
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(source) = &self.source {
            write!(f, ": {source:#}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ServiceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

impl ServiceError {
    pub fn new(
        kind: Kind,
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            kind,
            code: code.into(),
            detail: detail.into(),
            errors: None,
            retry_after: None,
            source: None,
        }
    }

    /// The input is malformed.
    pub fn invalid(
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(Kind::Invalid, code, detail)
    }

    pub fn unauthenticated(
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(Kind::Unauthenticated, code, detail)
    }

    pub fn forbidden(
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(Kind::Forbidden, code, detail)
    }

    pub fn not_found(
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(Kind::NotFound, code, detail)
    }

    pub fn conflict(
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(Kind::Conflict, code, detail)
    }

    /// Well-formed, but against a rule.
    pub fn rule(code: impl Into<Cow<'static, str>>, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::Rule, code, detail)
    }

    /// Too many requests, with when to try again.
    pub fn rate_limited(code: impl Into<Cow<'static, str>>, retry_after: Duration) -> Self {
        Self::new(Kind::RateLimited, code, "请求过于频繁，请稍后再试").retry_after(retry_after)
    }

    /// A dependency is down or busy; the cause is logged.
    pub fn unavailable(
        code: impl Into<Cow<'static, str>>,
        source: impl Into<anyhow::Error>,
    ) -> Self {
        let mut e = Self::new(Kind::Unavailable, code, "服务暂时不可用，请稍后重试");
        e.source = Some(source.into());
        e.retry_after = Some(Duration::from_secs(5));
        e
    }

    /// A bug or an unexpected failure; the cause is logged, not shown.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(Kind::Internal, "internal", "服务器内部错误，请稍后重试");
        e.source = Some(source.into());
        e
    }

    /// Adds when to try again.
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// Replaces the detail.
    pub fn with_detail(mut self, detail: impl Into<Cow<'static, str>>) -> Self {
        self.detail = detail.into();
        self
    }

    /// Attaches field-level details.
    pub fn with_errors(mut self, errors: serde_json::Value) -> Self {
        self.errors = Some(errors);
        self
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    pub fn errors(&self) -> Option<&serde_json::Value> {
        self.errors.as_ref()
    }

    pub fn retry_after_duration(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The cause of our own failures (for the log).
    pub fn cause(&self) -> Option<&anyhow::Error> {
        self.source.as_ref()
    }

    /// Whether trying the same thing again later may succeed: a dependency was down or busy,
    /// a limit was hit, or something failed unexpectedly. A refusal by a rule, a missing
    /// object or bad input will fail the same way again.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            Kind::RateLimited | Kind::Unavailable | Kind::Internal
        )
    }
}

impl From<DbError> for ServiceError {
    fn from(e: DbError) -> Self {
        if e.is_unique_violation() {
            // Two requests raced to create the same thing; the loser is told so.
            return ServiceError::conflict(
                "conflict.duplicate",
                "该记录已存在或刚被他人修改，请刷新后重试",
            );
        }
        if e.is_busy() {
            return ServiceError::unavailable("service.database_busy", e)
                .with_detail("系统繁忙，请稍后重试")
                .retry_after(std::time::Duration::from_secs(2));
        }
        match e {
            DbError::Pool(_) | DbError::Connection(_) => {
                ServiceError::unavailable("service.database_unavailable", e)
            }
            other => ServiceError::internal(other),
        }
    }
}

impl From<KvError> for ServiceError {
    fn from(e: KvError) -> Self {
        ServiceError::unavailable("service.cache_unavailable", e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_and_limits_are_retryable_refusals_are_not() {
        let bug: ServiceError = DbError::Migration("x".into()).into();
        assert_eq!(bug.kind(), Kind::Internal);
        assert!(
            bug.is_retryable(),
            "a job retries an unexpected failure, up to its attempts"
        );
        let cache: ServiceError = KvError::Timeout.into();
        assert_eq!(cache.code(), "service.cache_unavailable");
        assert!(cache.is_retryable());
        assert!(ServiceError::rate_limited("x", Duration::from_secs(1)).is_retryable());
        assert!(!ServiceError::conflict("membership.already_member", "已是会员").is_retryable());
        assert!(!ServiceError::rule("membership.age_not_eligible", "年龄").is_retryable());
        assert!(!ServiceError::not_found("x", "y").is_retryable());
    }

    #[test]
    fn internal_failures_keep_their_cause_for_the_log_only() {
        let e = ServiceError::internal(anyhow::anyhow!("relation secret_table missing"));
        assert_eq!(e.detail(), "服务器内部错误，请稍后重试");
        assert!(e.to_string().contains("secret_table"), "logged: {e}");
        assert!(!e.detail().contains("secret_table"));
    }
}
