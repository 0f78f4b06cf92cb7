//! The notification outbox: a domain change calls [`notify`] inside its own transaction,
//! which writes the inbox row, a pending delivery per external channel, and wakes the
//! dispatcher (a job). Nothing is sent from the request.

use chrono::{DateTime, Utc};
use gongyou_db::jobs::{self as store, NewJob};
use gongyou_db::notifications::{self as db, Notification};
use gongyou_db::{DbConnection, DbError};
use gongyou_domain::notification::{render, Category, Channel};

pub const DISPATCH: &str = "notifications.dispatch";

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

/// Writes a notice to a staff member's inbox (in the caller's transaction). Staff notices
/// go to the inbox only: staff accounts have no device, WeChat or phone on record.
pub fn notify_staff(
    conn: &mut DbConnection,
    staff_id: &str,
    category: Category,
    params: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<String, DbError> {
    write(conn, staff_id, category, params, now, &[])
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

/// Enqueues the dispatchers, each unless it is already waiting or running.
pub fn wake_dispatcher(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<(), DbError> {
    for shard in 0..DISPATCH_SHARDS {
        store::enqueue(
            conn,
            &NewJob {
                name: DISPATCH.into(),
                queue: "default".into(),
                priority: 5,
                dedup_key: Some(format!("{DISPATCH}:{shard}")),
                payload: "{}".into(),
                max_attempts: 10,
                run_at: now.naive_utc(),
            },
            now.naive_utc(),
        )?;
    }
    Ok(())
}
