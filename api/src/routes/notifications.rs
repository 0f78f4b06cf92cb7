//! The worker's notifications: the in-app inbox, devices for app push, preferences.

use actix_web::{get, post, put, web, HttpResponse};
use chrono::{DateTime, Utc};
use gongyou_db::notifications::{self as db, Notification};
use gongyou_db::write_tx;
use gongyou_domain::notification::{Category, Channel};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::routes::page::{Page, PageQuery};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: String,
    /// e.g. `membership_approved`, `notice`.
    pub category: String,
    pub title: String,
    pub body: String,
    pub read: bool,
    pub created_at: DateTime<Utc>,
}

impl From<Notification> for NotificationView {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id,
            category: n.category,
            title: n.title,
            body: n.body,
            read: n.read_at.is_some(),
            created_at: n.created_at.and_utc(),
        }
    }
}

/// The inbox, newest first.
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = Page<NotificationView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/notifications")]
pub async fn inbox(
    state: web::Data<AppState>,
    caller: Caller,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<NotificationView>>> {
    let user_id = caller.inbox_owner().to_owned();
    let limit = page.limit()?;
    let cursor = page.into_inner().cursor;
    let rows = state
        .db
        .run(move |conn| db::inbox(conn, &user_id, cursor.as_deref(), limit + 1))
        .await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |n| n.id.clone(),
        NotificationView::from,
    )))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCount {
    pub unread: i64,
}

/// How many inbox notifications are unread (for the badge).
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, body = UnreadCount),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/notifications/unread-count")]
pub async fn unread_count(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<UnreadCount>> {
    let user_id = caller.inbox_owner().to_owned();
    let unread = state
        .db
        .run(move |conn| db::unread_count(conn, &user_id))
        .await?;
    Ok(web::Json(UnreadCount { unread }))
}

/// Marks one notification read.
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, body = NotificationView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`notification.not_found` (also: not yours)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/me/notifications/{id}/read")]
pub async fn read(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<NotificationView>> {
    let user_id = caller.inbox_owner().to_owned();
    let id = id.into_inner();
    let now = state.clock.now().naive_utc();
    let n = state
        .db
        .run(move |conn| db::mark_read(conn, &user_id, &id, now))
        .await?
        .ok_or_else(|| ApiError::not_found("notification.not_found", "通知不存在"))?;
    Ok(web::Json(NotificationView::from(n)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarkedRead {
    pub marked: usize,
}

/// Marks every notification read.
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, body = MarkedRead),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/me/notifications/read-all")]
pub async fn read_all(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<MarkedRead>> {
    let user_id = caller.inbox_owner().to_owned();
    let now = state.clock.now().naive_utc();
    let marked = state
        .db
        .run(move |conn| db::mark_all_read(conn, &user_id, now))
        .await?;
    Ok(web::Json(MarkedRead { marked }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Device {
    /// The JPush registration id of this app install.
    pub registration_id: String,
    /// `android` or `ios`.
    pub platform: String,
}

/// Registers this app install for push (a registration id belongs to its latest user).
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    request_body = Device,
    responses(
        (status = 204, description = "Registered"),
        (status = 400, description = "`request.invalid_body`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/me/devices")]
pub async fn put_device(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<Device>,
) -> ApiResult<HttpResponse> {
    let user_id = caller.user_id()?.to_owned();
    let Device {
        registration_id,
        platform,
    } = body.into_inner();
    let valid_id = !registration_id.is_empty()
        && registration_id.len() <= 64
        && registration_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid_id || !["android", "ios"].contains(&platform.as_str()) {
        return Err(ApiError::bad_request(
            "request.invalid_body",
            "registration_id 或 platform 不正确",
        ));
    }
    let now = state.clock.now().naive_utc();
    state
        .db
        .run(move |conn| db::put_device(conn, &user_id, &registration_id, &platform, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, Serialize, ToSchema, Clone)]
pub struct Preference {
    pub category: String,
    /// `push` (the inbox always receives everything).
    pub channel: String,
    pub enabled: bool,
    /// Critical categories cannot be switched off.
    #[serde(default)]
    pub critical: bool,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct Preferences {
    pub preferences: Vec<Preference>,
}

fn all_preferences(set: &[(String, String, bool)]) -> Preferences {
    let mut out = Vec::new();
    for category in Category::ALL.into_iter().filter(|c| !c.staff_only()) {
        for channel in Channel::EXTERNAL {
            let enabled = category.critical()
                || set
                    .iter()
                    .find(|(c, ch, _)| c == category.as_str() && ch == channel.as_str())
                    .is_none_or(|(_, _, on)| *on);
            out.push(Preference {
                category: category.as_str().into(),
                channel: channel.as_str().into(),
                enabled,
                critical: category.critical(),
            });
        }
    }
    Preferences { preferences: out }
}

/// Which categories reach which channels (everything is on until switched off).
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Preferences),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/notification-preferences")]
pub async fn get_preferences(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<Preferences>> {
    let user_id = caller.user_id()?.to_owned();
    let set = state
        .db
        .run(move |conn| db::preferences(conn, &user_id))
        .await?;
    Ok(web::Json(all_preferences(&set)))
}

/// Changes preferences (those listed; others stay).
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    request_body = Preferences,
    responses(
        (status = 200, body = Preferences),
        (status = 400, description = "`request.invalid_body`: unknown category or channel", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`notification.critical`: a critical category cannot be switched off", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/me/notification-preferences")]
pub async fn put_preferences(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<Preferences>,
) -> ApiResult<web::Json<Preferences>> {
    let user_id = caller.user_id()?.to_owned();
    let mut changes = Vec::new();
    for p in body.into_inner().preferences {
        let (Some(category), Some(channel)) = (
            Category::parse(&p.category).filter(|c| !c.staff_only()),
            Channel::parse(&p.channel),
        ) else {
            return Err(ApiError::bad_request(
                "request.invalid_body",
                "未知的通知类别或渠道",
            ));
        };
        if channel == Channel::Inbox {
            return Err(ApiError::bad_request(
                "request.invalid_body",
                "站内信总会收到，不能关闭",
            ));
        }
        if category.critical() && !p.enabled {
            return Err(ApiError::unprocessable(
                "notification.critical",
                "重要通知不能关闭",
            ));
        }
        changes.push((category.as_str(), channel.as_str(), p.enabled));
    }
    let now = state.clock.now().naive_utc();
    let set = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                for (category, channel, enabled) in &changes {
                    db::set_preference(conn, &user_id, category, channel, *enabled, now)?;
                }
                db::preferences(conn, &user_id)
            })
        })
        .await?;
    Ok(web::Json(all_preferences(&set)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SubscriptionResults {
    /// The result object of `wx.requestSubscribeMessage`: template id → `accept`, `reject`,
    /// `ban` or `filter` (other keys, such as `errMsg`, are ignored).
    #[schema(value_type = Object)]
    pub results: std::collections::BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Credit {
    pub template_id: String,
    /// Messages of this template that may still be sent (one per `accept`).
    pub credits: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Credits {
    pub credits: Vec<Credit>,
}

/// Records the user's answers to a subscribe-message prompt: each `accept` allows one
/// WeChat message of that template.
#[utoipa::path(
    tag = "notifications",
    security(("bearer" = [])),
    request_body = SubscriptionResults,
    responses(
        (status = 200, body = Credits),
        (status = 400, description = "`request.invalid_body`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/me/wechat-subscriptions")]
pub async fn wechat_subscriptions(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<SubscriptionResults>,
) -> ApiResult<web::Json<Credits>> {
    let user_id = caller.user_id()?.to_owned();
    let accepted: Vec<String> = body
        .into_inner()
        .results
        .into_iter()
        .filter(|(key, value)| key != "errMsg" && value.as_str() == Some("accept"))
        .map(|(key, _)| key)
        .collect();
    if accepted
        .iter()
        .any(|t| t.is_empty() || t.len() > 64 || !t.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(ApiError::bad_request(
            "request.invalid_body",
            "模板 ID 不正确",
        ));
    }
    let now = state.clock.now().naive_utc();
    let credits = state
        .db
        .run(move |conn| {
            db::add_credits(conn, &user_id, &accepted, now)?;
            db::credits(conn, &user_id)
        })
        .await?;
    Ok(web::Json(Credits {
        credits: credits
            .into_iter()
            .map(|(template_id, credits)| Credit {
                template_id,
                credits,
            })
            .collect(),
    }))
}
