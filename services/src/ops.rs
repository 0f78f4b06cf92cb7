//! Operations: whether this process is ready to serve (its database answers with every
//! migration applied, and Redis answers when configured).

use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use crate::Context;

/// The state of one dependency.
#[derive(Serialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    Ok,
    Unavailable,
    /// Migrations not yet applied (run `gongyou migrate`).
    Pending,
    NotConfigured,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` when every check is `ok` or `not_configured`.
    status: &'static str,
    database: CheckState,
    migrations: CheckState,
    redis: CheckState,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.status == "ready"
    }
}

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Checks the database (and Redis, when configured), each within a few seconds.
pub async fn readiness(ctx: &Context) -> Readiness {
    let db = ctx.db.clone();
    let database = tokio::time::timeout(CHECK_TIMEOUT, async {
        db.ping().await?;
        db.run(gongyou_db::migrate::pending).await
    })
    .await;
    let (database, migrations) = match database {
        Ok(Ok(0)) => (CheckState::Ok, CheckState::Ok),
        Ok(Ok(_)) => (CheckState::Ok, CheckState::Pending),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database unavailable");
            (CheckState::Unavailable, CheckState::Unavailable)
        }
        Err(_) => (CheckState::Unavailable, CheckState::Unavailable),
    };
    let redis = if ctx.kv.is_redis() {
        match tokio::time::timeout(CHECK_TIMEOUT, ctx.kv.ping()).await {
            Ok(Ok(())) => CheckState::Ok,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: redis unavailable");
                CheckState::Unavailable
            }
            Err(_) => CheckState::Unavailable,
        }
    } else {
        CheckState::NotConfigured
    };
    let ready = [database, migrations, redis]
        .iter()
        .all(|c| matches!(c, CheckState::Ok | CheckState::NotConfigured));
    Readiness {
        status: if ready { "ready" } else { "not_ready" },
        database,
        migrations,
        redis,
    }
}
