//! The notification outbox: a domain change calls [`notify`] inside its own transaction,
//! which writes the inbox row, a pending delivery per external channel, and wakes the
//! dispatchers (jobs). Nothing is sent from the request.

use chrono::{DateTime, Utc};
use gongyou_db::jobs::Job;
use gongyou_db::notifications::{self as db, Notification};
use gongyou_db::{staff as staff_db, DbConnection, DbError};
use gongyou_domain::notification::{render, Category, Channel};
use serde::{Deserialize, Serialize};

/// Writes a notification for `user_id` (in the caller's transaction).
pub fn notify(
    conn: &mut DbConnection,
    user_id: &str,
    category: Category,
    params: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<String, DbError> {
    let channels: Vec<&str> = Channel::for_category(category)
        .iter()
        .map(|c| c.as_str())
        .collect();
    let id = write(conn, user_id, category, params, now, &channels)?;
    wake_dispatcher(conn, now)?;
    Ok(id)
}

/// Many notifications of one category (one per `(user_id, params)`), written in multi-row
/// statements, without waking the dispatcher: for batches (roster imports), whose caller
/// wakes it once ([`wake_dispatcher`]) — the periodic dispatcher is the safety net.
/// Deliveries are written only for `channels` (from [`configured_channels`]): a million
/// deliveries to channels the dispatcher can only mark skipped would cost more than the
/// notices themselves. A notice's id is `id_prefix` and its user id, so the notices form a
/// primary-key range that campaign push batches can cover (ADR 010); a fresh UUIDv7 as the
/// prefix keeps them time-ordered among the users' other notices.
pub fn notify_many(
    conn: &mut DbConnection,
    category: Category,
    items: Vec<(String, serde_json::Value)>,
    now: DateTime<Utc>,
    channels: &[&str],
    id_prefix: &str,
) -> Result<(), DbError> {
    if items.is_empty() {
        return Ok(());
    }
    let all: Vec<Notification> = items
        .into_iter()
        .map(|(user_id, params)| {
            let rendered = render(category, &params);
            Notification {
                id: format!("{id_prefix}{user_id}"),
                user_id,
                category: category.as_str().to_owned(),
                title: rendered.title,
                body: rendered.body,
                data: params.to_string(),
                read_at: None,
                created_at: now.naive_utc(),
            }
        })
        .collect();
    db::insert_many(conn, &all, channels)
}

/// The external channels of `category` this install can deliver on now: push with JPush
/// configured, WeChat with the mini-program and a template for the category, SMS with the
/// gateway and the notice template. The dispatcher marks a delivery on any other channel
/// skipped, so bulk writers leave it out ([`notify_many`]).
pub fn configured_channels(ctx: &crate::Context, category: Category) -> Vec<&'static str> {
    Channel::for_category(category)
        .into_iter()
        .filter(|c| match c {
            Channel::Push => ctx.providers.jpush.is_some(),
            Channel::Wechat => {
                ctx.providers.wechat.is_some()
                    && ctx.config.wechat_templates.contains_key(category.as_str())
            }
            Channel::Sms => sms_notices_configured(ctx),
            Channel::Inbox => false,
        })
        .map(Channel::as_str)
        .collect()
}

/// Whether notices can go by SMS: the gateway and the notice template are configured.
fn sms_notices_configured(ctx: &crate::Context) -> bool {
    ctx.providers.sms.is_some() && ctx.config.sms_notice_template_id.is_some()
}

/// What staff notices can reach beyond the inbox on this install, from its configuration.
/// Take it before the transaction that calls [`notify_staff`] (which has no context).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaffChannels {
    sms: bool,
}

impl StaffChannels {
    /// The inbox only, whatever is configured.
    pub const INBOX_ONLY: StaffChannels = StaffChannels { sms: false };

    /// SMS when the gateway and the notice template are configured.
    pub fn of(ctx: &crate::Context) -> Self {
        Self {
            sms: sms_notices_configured(ctx),
        }
    }
}

/// Writes a notice to a staff member (in the caller's transaction): to the inbox always,
/// and by SMS too when the category goes by SMS to staff ([`Category::staff_sms`]), the
/// staff member has a verified contact phone and `channels` has SMS. Staff accounts have no
/// device or WeChat on record.
pub fn notify_staff(
    conn: &mut DbConnection,
    channels: StaffChannels,
    staff_id: &str,
    category: Category,
    params: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<String, DbError> {
    let sms = channels.sms
        && category.staff_sms()
        && staff_db::has_verified_contact_phone(conn, staff_id)?;
    if !sms {
        return write(conn, staff_id, category, params, now, &[]);
    }
    let id = write(
        conn,
        staff_id,
        category,
        params,
        now,
        &[Channel::Sms.as_str()],
    )?;
    wake_dispatcher(conn, now)?;
    Ok(id)
}

fn write(
    conn: &mut DbConnection,
    recipient: &str,
    category: Category,
    params: serde_json::Value,
    now: DateTime<Utc>,
    channels: &[&str],
) -> Result<String, DbError> {
    let rendered = render(category, &params);
    let notification = Notification {
        id: gongyou_domain::id::new_id(),
        user_id: recipient.to_owned(),
        category: category.as_str().to_owned(),
        title: rendered.title,
        body: rendered.body,
        data: params.to_string(),
        read_at: None,
        created_at: now.naive_utc(),
    };
    db::insert(conn, &notification, channels)?;
    Ok(notification.id)
}

/// Dispatcher jobs that may run at once (each claims its own batches: they share the work
/// without overlap), so several workers dispatch in parallel.
pub const DISPATCH_SHARDS: usize = 4;

/// The dispatcher: delivers due notifications and campaign pushes until none is due.
/// `shard` keeps at most [`DISPATCH_SHARDS`] waiting or running at once; the periodic
/// safety net runs without one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Dispatch {
    pub shard: Option<usize>,
}

impl Job for Dispatch {
    const NAME: &'static str = "notifications.dispatch";
    const PRIORITY: i32 = 5;
    const MAX_ATTEMPTS: i32 = 10;

    fn dedup_key(&self) -> Option<String> {
        self.shard.map(|shard| format!("{}:{shard}", Self::NAME))
    }
}

/// Enqueues the dispatchers, each unless it is already waiting or running.
pub fn wake_dispatcher(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<(), DbError> {
    for shard in 0..DISPATCH_SHARDS {
        Dispatch { shard: Some(shard) }.enqueue(conn, now.naive_utc())?;
    }
    Ok(())
}
