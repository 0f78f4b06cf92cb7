//! A person's own notifications: the in-app inbox (workers' and staff members'), devices for
//! app push, preferences per category and channel, WeChat subscribe-message credits.

use chrono::{DateTime, Utc};
use gongyou_db::notifications::{self as db, Notification};
use gongyou_db::write_tx;
use gongyou_domain::notification::{Category, Channel};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::actor::Actor;
use crate::error::{ServiceError, ServiceResult};
use crate::page::{Page, PageRequest};
use crate::Context;

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
pub async fn inbox(
    ctx: &Context,
    actor: &Actor,
    page: PageRequest,
) -> ServiceResult<Page<NotificationView>> {
    let user_id = actor.inbox_owner().to_owned();
    let limit = page.limit;
    let rows = ctx
        .db
        .run(move |conn| db::inbox(conn, &user_id, page.cursor.as_deref(), page.fetch()))
        .await?;
    Ok(Page::from_rows(
        rows,
        limit,
        |n| n.id.clone(),
        NotificationView::from,
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCount {
    pub unread: i64,
}

/// How many inbox notifications are unread (for the badge).
pub async fn unread_count(ctx: &Context, actor: &Actor) -> ServiceResult<UnreadCount> {
    let user_id = actor.inbox_owner().to_owned();
    let unread = ctx
        .db
        .run(move |conn| db::unread_count(conn, &user_id))
        .await?;
    Ok(UnreadCount { unread })
}

/// Marks one notification read.
pub async fn read(ctx: &Context, actor: &Actor, id: String) -> ServiceResult<NotificationView> {
    let user_id = actor.inbox_owner().to_owned();
    let now = ctx.now().naive_utc();
    let n = ctx
        .db
        .run(move |conn| db::mark_read(conn, &user_id, &id, now))
        .await?
        .ok_or_else(|| ServiceError::not_found("notification.not_found", "通知不存在"))?;
    Ok(NotificationView::from(n))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarkedRead {
    pub marked: usize,
}

/// Marks every notification read.
pub async fn read_all(ctx: &Context, actor: &Actor) -> ServiceResult<MarkedRead> {
    let user_id = actor.inbox_owner().to_owned();
    let now = ctx.now().naive_utc();
    let marked = ctx
        .db
        .run(move |conn| db::mark_all_read(conn, &user_id, now))
        .await?;
    Ok(MarkedRead { marked })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Device {
    /// The JPush registration id of this app install.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub registration_id: String,
    pub platform: DevicePlatform,
}

/// The operating system of an app install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DevicePlatform {
    Android,
    Ios,
}

impl DevicePlatform {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Android => "android",
            Self::Ios => "ios",
        }
    }
}

/// Registers this app install for push (a registration id belongs to its latest user).
pub async fn put_device(ctx: &Context, actor: &Actor, device: Device) -> ServiceResult<()> {
    let user_id = actor.user_id()?.to_owned();
    let Device {
        registration_id,
        platform,
    } = device;
    let valid_id = !registration_id.is_empty()
        && registration_id.len() <= 64
        && registration_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid_id {
        return Err(ServiceError::invalid(
            "request.invalid_body",
            "registration_id 或 platform 不正确",
        ));
    }
    let platform = platform.as_str();
    let now = ctx.now().naive_utc();
    ctx.db
        .run(move |conn| db::put_device(conn, &user_id, &registration_id, platform, now))
        .await?;
    Ok(())
}

#[derive(Debug, Deserialize, Serialize, ToSchema, Clone)]
pub struct Preference {
    /// A category a worker receives (staff notices are not a worker's to switch).
    #[schema(schema_with = worker_category_schema)]
    pub category: String,
    /// `push`, `wechat` or `sms` (the inbox always receives everything).
    #[schema(schema_with = external_channel_schema)]
    pub channel: String,
    pub enabled: bool,
    /// Critical categories cannot be switched off.
    #[serde(default)]
    pub critical: bool,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct Preferences {
    /// At most one entry per category and channel matters (the last wins).
    #[schema(max_items = 64)]
    pub preferences: Vec<Preference>,
}

/// The most preference entries one request may carry.
const MAX_PREFERENCES: usize = 64;

fn string_enum(values: Vec<&str>) -> utoipa::openapi::schema::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values))
        .build()
}

/// The categories a worker may set preferences for.
fn worker_category_schema() -> utoipa::openapi::schema::Object {
    string_enum(
        Category::ALL
            .into_iter()
            .filter(|c| !c.staff_only())
            .map(Category::as_str)
            .collect(),
    )
}

/// The channels besides the inbox.
fn external_channel_schema() -> utoipa::openapi::schema::Object {
    string_enum(Channel::EXTERNAL.into_iter().map(Channel::as_str).collect())
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
pub async fn preferences(ctx: &Context, actor: &Actor) -> ServiceResult<Preferences> {
    let user_id = actor.user_id()?.to_owned();
    let set = ctx
        .db
        .run(move |conn| db::preferences(conn, &user_id))
        .await?;
    Ok(all_preferences(&set))
}

/// Changes preferences (those listed; others stay).
pub async fn put_preferences(
    ctx: &Context,
    actor: &Actor,
    body: Preferences,
) -> ServiceResult<Preferences> {
    let user_id = actor.user_id()?.to_owned();
    if body.preferences.len() > MAX_PREFERENCES {
        return Err(ServiceError::invalid(
            "request.invalid_body",
            "一次最多设置 64 项",
        ));
    }
    let mut changes = Vec::new();
    for p in body.preferences {
        let (Some(category), Some(channel)) = (
            Category::parse(&p.category).filter(|c| !c.staff_only()),
            Channel::parse(&p.channel),
        ) else {
            return Err(ServiceError::invalid(
                "request.invalid_body",
                "未知的通知类别或渠道",
            ));
        };
        if channel == Channel::Inbox {
            return Err(ServiceError::invalid(
                "request.invalid_body",
                "站内信总会收到，不能关闭",
            ));
        }
        if category.critical() && !p.enabled {
            return Err(ServiceError::rule(
                "notification.critical",
                "重要通知不能关闭",
            ));
        }
        changes.push((category.as_str(), channel.as_str(), p.enabled));
    }
    let now = ctx.now().naive_utc();
    let set = ctx
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
    Ok(all_preferences(&set))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SubscriptionResults {
    /// The result object of `wx.requestSubscribeMessage`: template id → `accept`, `reject`,
    /// `ban` or `filter` (other keys, such as `errMsg`, are ignored; so are templates this
    /// install does not send). At most 20 entries.
    #[schema(schema_with = subscription_results_schema)]
    pub results: std::collections::BTreeMap<String, serde_json::Value>,
}

fn subscription_results_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Object)
        .max_properties(Some(MAX_SUBSCRIPTION_RESULTS))
        .build()
}

/// Entries of one subscribe prompt's result (WeChat asks for at most 3 templates at once).
const MAX_SUBSCRIPTION_RESULTS: usize = 20;

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
pub async fn wechat_subscriptions(
    ctx: &Context,
    actor: &Actor,
    body: SubscriptionResults,
) -> ServiceResult<Credits> {
    let user_id = actor.user_id()?.to_owned();
    if body.results.len() > MAX_SUBSCRIPTION_RESULTS {
        return Err(ServiceError::invalid(
            "request.invalid_body",
            "订阅结果不能超过 20 项",
        ));
    }
    // Only the templates this install sends earn credits: a credit for any other id would
    // be a row nobody ever spends.
    let sent: std::collections::HashSet<&String> = ctx.config.wechat_templates.values().collect();
    let accepted: Vec<String> = body
        .results
        .into_iter()
        .filter(|(key, value)| value.as_str() == Some("accept") && sent.contains(key))
        .map(|(key, _)| key)
        .collect();
    let now = ctx.now().naive_utc();
    let credits = ctx
        .db
        .run(move |conn| {
            db::add_credits(conn, &user_id, &accepted, now)?;
            db::credits(conn, &user_id)
        })
        .await?;
    Ok(Credits {
        credits: credits
            .into_iter()
            .map(|(template_id, credits)| Credit {
                template_id,
                credits,
            })
            .collect(),
    })
}
