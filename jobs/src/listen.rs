//! PostgreSQL LISTEN/NOTIFY wake-up. diesel only drains notifications that have already
//! arrived, so a dedicated (unpooled) connection is polled briefly on its own thread; the
//! worker's own polling stays the fallback if this connection is lost.

use std::sync::Arc;
use std::time::Duration;

use diesel::RunQueryDsl;
use gongyou_db::jobs::NOTIFY_CHANNEL;
use gongyou_db::Db;
use tokio::sync::{watch, Notify};

const POLL: Duration = Duration::from_millis(50);

/// Starts listening; returns the thread's handle (it ends with `shutdown`).
pub fn spawn(
    db: &Db,
    wake: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
) -> Option<std::thread::JoinHandle<()>> {
    let db = db.clone();
    std::thread::Builder::new()
        .name("gongyou-listen".into())
        .spawn(move || {
            while !*shutdown.borrow() {
                let mut conn = match db.dedicated_pg() {
                    Some(Ok(conn)) => conn,
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "LISTEN connection failed; polling only");
                        std::thread::sleep(Duration::from_secs(5));
                        continue;
                    }
                    None => return,
                };
                if let Err(e) =
                    diesel::sql_query(format!("LISTEN {NOTIFY_CHANNEL}")).execute(&mut conn)
                {
                    tracing::warn!(error = %e, "LISTEN failed; polling only");
                    std::thread::sleep(Duration::from_secs(5));
                    continue;
                }
                'listening: while !*shutdown.borrow() {
                    let mut woke = false;
                    for notification in conn.notifications_iter() {
                        match notification {
                            Ok(_) => woke = true,
                            Err(e) => {
                                tracing::warn!(error = %e, "LISTEN connection lost; reconnecting");
                                break 'listening;
                            }
                        }
                    }
                    if woke {
                        wake.notify_one();
                    }
                    std::thread::sleep(POLL);
                }
            }
        })
        .ok()
}
